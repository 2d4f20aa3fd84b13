import { basename, dirname, resolve } from 'node:path';
import type { CallToolResult, ContentBlock } from '@modelcontextprotocol/server';
import sharp from 'sharp';
import { totalCost } from 'replicate-flux-blocks/shared/framework/actual-cost.js';
import { fetchImage, type FetchedImage, type FetchOptions } from 'replicate-flux-blocks/shared/image/fetch-image.js';
import { writeImage } from 'replicate-flux-blocks/shared/image/write-image.js';
import type { GraphOutput, GraphResult } from 'replicate-flux-blocks/shared/graph/run-graph.js';
import { LIST_OUTPUTS } from './tools.js';

/** How results show their images. */
export interface ResultOptions {
  /** Largest MCP image item, in bytes of its base64 text; 0 sends no image items. */
  readonly maxImageBytes: number;
  /** Directory result images are saved into, each linked as a `resource_link`; undefined saves nothing. */
  readonly out?: string;
  /** Limits and trusted origins for reading result images: the environment's save options. */
  readonly fetch?: FetchOptions;
  readonly signal?: AbortSignal;
}

/** Longest side of an image item, in px. */
export const MAX_IMAGE_SIDE = 1024;

/** Default `maxImageBytes`: 1 MB, the most many clients pass on to a model per image. */
export const DEFAULT_MAX_IMAGE_BYTES = 1_000_000;

/** URI of a file saved into the server's `out` directory, readable with `resources/read`. */
export const SAVED_FILE_URI = 'flux-blocks://out/{file}';

/** Outputs whose values may be images: generated image URLs and Save Image's data: URIs. */
const IMAGE_OUTPUTS = new Set(['result', 'data_uri']);

/** Files a server saves or Save Image writes: 16 hex digits of the sha256 and the extension. */
export const SAVED_FILE_NAME = /^[0-9a-f]{16}\.[a-z]+$/;

/**
 * A block run's outputs as `structuredContent`: each output name with its value, except the
 * outputs in {@link LIST_OUTPUTS} (`result`), which hold every value in yield order, e.g.
 * `{ result: ["https://..."], seed: 42 }` or `{ error: "..." }`.
 */
export function structuredOutputs(outputs: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> {
  // A Map, then own properties: an output named `__proto__` stays a key, never a prototype.
  const structured = new Map<string, unknown>();
  for (const [name, value] of outputs) {
    if (!LIST_OUTPUTS.has(name)) structured.set(name, value);
    else if (structured.has(name)) (structured.get(name) as unknown[]).push(value);
    else structured.set(name, [value]);
  }
  return Object.fromEntries(structured);
}

/**
 * A block run as a tool result: `structuredContent` ({@link structuredOutputs}), and `content`:
 * a text summary (`<Block> finished.` then `name: value` per output), a second text item with
 * `structuredContent` as one JSON line ({@link jsonItem}; not on error), then per image an
 * `image` item and, with `out`, a `resource_link` to the saved file. A run that yielded `error`
 * is `isError` with that message first.
 * @param costUsd What the call cost in USD (`actualCost` of its predictions), when known: a
 *   successful run's `structuredContent` carries it as `cost_usd`, and the summary says it.
 */
export async function blockResult(
  blockName: string,
  outputs: ReadonlyArray<readonly [string, unknown]>,
  options: ResultOptions,
  costUsd?: number,
): Promise<CallToolResult> {
  const structured = structuredOutputs(outputs);
  const error = outputs.find(([name]) => name === 'error');
  const lines = error ? [`Error: ${String(error[1])}`] : [`${blockName} finished.`];
  for (const [name, value] of outputs) if (name !== 'error') lines.push(`${name}: ${shown(value)}`);
  if (!error && costUsd !== undefined) {
    structured.cost_usd = costUsd;
    lines.push(`cost: $${costUsd}`);
  }
  const media = await imageContent(
    outputs.map(([name, value]) => ({ name, value })),
    options,
  );
  return {
    content: [
      { type: 'text', text: [...lines, ...media.notes].join('\n') },
      ...(error ? [] : [jsonItem(structured)]),
      ...media.items,
    ],
    structuredContent: structured,
    ...(error && { isError: true }),
  };
}

/**
 * A graph run as a tool result: `structuredContent` is `{ outputs: { node: { output: [values] } },
 * failures: [{ node, block, error }], stopped: [node], cost_usd? }` (lists, as a node runs once per
 * set of linked values; `cost_usd` the run's actual cost in USD when every part of it is known), and `content` a text summary, `structuredContent` as one JSON line
 * ({@link jsonItem}; not when a node failed) and the same image items as a block's. A graph
 * with a failed node is `isError`.
 */
export async function graphResult(result: GraphResult, options: ResultOptions): Promise<CallToolResult> {
  const outputs = nodeOutputs(result.outputs);
  const failed = result.failures.length > 0;
  const lines = [failed ? `Error: ${result.failures.length} node run(s) failed.` : 'Graph finished.'];
  for (const { node, block, error } of result.failures) lines.push(`Node ${node} (${block}) failed: ${error}`);
  if (result.stopped.length) lines.push(`Stopped, as a node upstream failed: ${result.stopped.join(', ')}`);
  for (const { node, output, value } of result.outputs)
    if (output !== 'error') lines.push(`${node}.${output}: ${shown(value)}`);
  const media = await imageContent(
    result.outputs.map(({ output, value }) => ({ name: output, value })),
    options,
  );
  const structured: Record<string, unknown> = { outputs, failures: result.failures, stopped: result.stopped };
  // The actual cost, only when every priced node run's cost is known (docs/costs.md).
  const cost = totalCost(result.costs);
  if (result.costs.length && !cost.unknown) {
    structured.cost_usd = cost.knownUsd;
    lines.push(`cost: $${cost.knownUsd}`);
  }
  return {
    content: [
      { type: 'text', text: [...lines, ...media.notes].join('\n') },
      ...(failed ? [] : [jsonItem(structured)]),
      ...media.items,
    ],
    structuredContent: structured,
    ...(failed && { isError: true }),
  };
}

/**
 * `{ node: { output: [values] } }` from a graph's outputs. Built in Maps and written out as own
 * properties (`Object.fromEntries`), so no node id or output name (`__proto__`, `constructor`)
 * reaches a prototype, whatever the graph checks let through.
 */
export function nodeOutputs(outputs: readonly GraphOutput[]): Record<string, Record<string, unknown[]>> {
  const byNode = new Map<string, Map<string, unknown[]>>();
  for (const { node, output, value } of outputs) {
    let byOutput = byNode.get(node);
    if (!byOutput) byNode.set(node, (byOutput = new Map()));
    const values = byOutput.get(output);
    if (values) values.push(value);
    else byOutput.set(output, [value]);
  }
  return Object.fromEntries([...byNode].map(([node, byOutput]) => [node, Object.fromEntries(byOutput)]));
}

/**
 * `structuredContent` as a text item of one JSON line, e.g. `{"result":["https://..."],"seed":42}`:
 * what the MCP spec asks of a server with structured results for clients that read `content`
 * only. AutoGPT's MCP Tool block is one: it parses each text item that is JSON into an object
 * its graph can wire. data: URIs are shortened as in the summary (the image items carry them),
 * so the line stays small.
 */
function jsonItem(structured: Record<string, unknown>): ContentBlock {
  const text = JSON.stringify(structured, (_key, value: unknown) =>
    typeof value === 'string' && value.startsWith('data:') ? shown(value) : value,
  );
  return { type: 'text', text };
}

/** A value for the text summary: data: URIs shortened, JSON for anything but strings. */
function shown(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  return value.startsWith('data:')
    ? `${value.slice(0, value.indexOf(',') + 1)}... (${value.length} characters)`
    : value;
}

/**
 * Image items and saved-file links for the image outputs, with a note per image that could not
 * be read, decoded or saved. Never throws for an image: the result stands without its preview.
 */
async function imageContent(
  outputs: ReadonlyArray<{ name: string; value: unknown }>,
  options: ResultOptions,
): Promise<{ items: ContentBlock[]; notes: string[] }> {
  const items: ContentBlock[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  // A file is linked once: a Save Image node's `path` and the server's copy of the same image
  // are one file (named by its content).
  const linked = new Set<string>();
  const link = (item: ContentBlock & { uri: string }) => {
    if (!linked.has(item.uri)) items.push(item);
    linked.add(item.uri);
  };
  for (const { name, value } of outputs) {
    if (name === 'path' && typeof value === 'string' && options.out && isSavedFile(value, options.out)) {
      link(savedFileLink(value, undefined));
      continue;
    }
    if (
      !IMAGE_OUTPUTS.has(name) ||
      typeof value !== 'string' ||
      !/^(https?:|data:image\/)/.test(value) ||
      seen.has(value)
    )
      continue;
    seen.add(value);
    if (options.maxImageBytes <= 0 && !options.out) continue;
    let image: FetchedImage;
    try {
      image = await fetchImage(value, options.fetch, options.signal);
    } catch (error) {
      notes.push(previewLeftOut(value, 'read', error));
      continue;
    }
    if (options.maxImageBytes > 0) {
      // The preview never costs the result: an image sharp cannot decode (truncated, corrupt,
      // over its pixel limit) loses its image item, not the call.
      try {
        const item = await downscaled(image, options.maxImageBytes);
        if (item) items.push({ type: 'image', ...item });
        else
          notes.push(`${shown(value)} does not fit in ${options.maxImageBytes} bytes even downscaled; no image item.`);
      } catch (error) {
        notes.push(previewLeftOut(value, 'decoded', error));
      }
    }
    if (options.out) {
      try {
        const path = await writeImage(image, options.out);
        notes.push(`Saved: ${resolve(path)}`);
        link(savedFileLink(path, image));
      } catch (error) {
        notes.push(`Could not save ${shown(value)}: ${(error as Error).message}`);
      }
    }
  }
  return { items, notes };
}

/**
 * The one-line note for an image output without a preview, e.g. `https://.../out-0.png: preview
 * left out: the image could not be decoded (pngload_buffer: libspng read error); the URL above
 * is the result.` The reason is cut to 200 characters.
 */
function previewLeftOut(value: string, failed: 'read' | 'decoded', error: unknown): string {
  const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim();
  const shownReason = reason.length > 200 ? `${reason.slice(0, 200)}...` : reason;
  const what = value.startsWith('data:') ? 'data: URI' : 'URL';
  return `${shown(value)}: preview left out: the image could not be ${failed} (${shownReason}); the ${what} above is the result.`;
}

function isSavedFile(path: string, out: string): boolean {
  return resolve(dirname(path)) === resolve(out) && SAVED_FILE_NAME.test(basename(path));
}

const MEDIA_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  tiff: 'image/tiff',
};

/** The media type of a saved file, from its extension. */
export function mediaTypeOf(file: string): string {
  return MEDIA_TYPES[file.slice(file.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

function savedFileLink(path: string, image: FetchedImage | undefined): ContentBlock & { uri: string } {
  const file = basename(path);
  return {
    type: 'resource_link',
    uri: SAVED_FILE_URI.replace('{file}', file),
    name: file,
    mimeType: mediaTypeOf(file),
    description: `Full-size image saved to ${resolve(path)}${image ? ` (${image.width}x${image.height} px)` : ''}`,
  };
}

/**
 * The image re-encoded to fit an MCP image item: long side at most {@link MAX_IMAGE_SIDE} px
 * (never enlarged), base64 text at most `maxBytes`. Tries the image's own format (png, jpeg,
 * webp; others as png), then jpeg at quality 80 and 60, then the same at 3/4 of the size, and
 * so on down to 32 px. @returns undefined when nothing fits.
 */
export async function downscaled(
  image: FetchedImage,
  maxBytes: number,
): Promise<{ data: string; mimeType: string } | undefined> {
  for (let side = MAX_IMAGE_SIDE; side >= 32; side = Math.floor(side * 0.75)) {
    const resized = () => sharp(image.bytes).resize(side, side, { fit: 'inside', withoutEnlargement: true });
    const own: Array<() => Promise<[Buffer, string]>> =
      image.contentType === 'image/jpeg'
        ? []
        : image.contentType === 'image/webp'
          ? [async () => [await resized().webp().toBuffer(), 'image/webp']]
          : [async () => [await resized().png().toBuffer(), 'image/png']];
    const jpeg = (quality: number) => async (): Promise<[Buffer, string]> => [
      await resized().flatten({ background: '#ffffff' }).jpeg({ quality }).toBuffer(),
      'image/jpeg',
    ];
    for (const encode of [...own, jpeg(80), jpeg(60)]) {
      const [bytes, mimeType] = await encode();
      const data = bytes.toString('base64');
      if (data.length <= maxBytes) return { data, mimeType };
    }
  }
  return undefined;
}

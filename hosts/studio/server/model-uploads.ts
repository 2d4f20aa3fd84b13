// Images sent from the page into an any-model node's input form: read into data: URIs before a check or run.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fetchImage } from 'replicate-flux-blocks/shared/image/fetch-image.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { GraphError } from 'replicate-flux-blocks/shared/graph/check-graph.js';
import { ANY_MODEL_BLOCK, MAX_UPLOAD_BYTES, UPLOADS_FOLDER } from '../protocol.js';
/** An upload as the page names it (`saveUpload`): `uploads/<16 hex digits>.<extension>`, nothing else. */
const UPLOAD = new RegExp(`^${UPLOADS_FOLDER}/[0-9a-f]{16}\\.(?:png|jpe?g|gif|webp)$`);
/** Most uploads one node's input names: each is up to 10 MiB held in memory. */
export const MAX_MODEL_UPLOADS = 16;

/**
 * The graph with each upload an any-model node's `input` names (a value, or an item of a list,
 * that is exactly `uploads/<name>` in the out directory) read into a `data:` URI, as the block
 * fields' local images are (`withLocalImages`): the block's input is free-form, so the library
 * does not know which of its values are images.
 * @throws {GraphError} naming the node and field, for a missing upload, one that is no image, or
 *   more than {@link MAX_MODEL_UPLOADS} in one node.
 */
export async function withModelUploads(graph: unknown, registry: BlockRegistry, outDir: string): Promise<unknown> {
  const nodes = (graph as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return graph;
  const read = await Promise.all(
    nodes.map(async (node: unknown) => {
      const { id, block_id: blockId, input_default: defaults } = (node ?? {}) as Record<string, unknown>;
      const input = (defaults as { input?: unknown } | undefined)?.input;
      if (typeof blockId !== 'string' || registry.get(blockId)?.name !== ANY_MODEL_BLOCK || !isObject(input))
        return node;
      const named = Object.values(input)
        .flatMap((value) => (Array.isArray(value) ? value : [value]))
        .filter(isUpload);
      if (!named.length) return node;
      if (named.length > MAX_MODEL_UPLOADS)
        throw new GraphError(
          `Node ${String(id)}: its input names ${named.length} uploaded images, over the studio's limit of ${MAX_MODEL_UPLOADS}`,
        );
      const entries = await Promise.all(
        Object.entries(input).map(async ([field, value]) => {
          const uri = (item: unknown, at: string) =>
            isUpload(item) ? dataUriOf(item, `Node ${String(id)}: ${at}`, outDir) : item;
          return [
            field,
            Array.isArray(value)
              ? await Promise.all(value.map((item, i) => uri(item, `input.${field}.${i}`)))
              : await uri(value, `input.${field}`),
          ] as const;
        }),
      );
      return { ...(node as object), input_default: { ...(defaults as object), input: Object.fromEntries(entries) } };
    }),
  );
  return { ...(graph as object), nodes: read };
}

const isUpload = (value: unknown): value is string => typeof value === 'string' && UPLOAD.test(value);

async function dataUriOf(path: string, where: string, outDir: string): Promise<string> {
  const bytes = await readFile(join(outDir, path)).catch(() => {
    throw new GraphError(`${where}: no uploaded image ${path}; pick the file again`);
  });
  // Checked again: only images leave the machine, whatever the out directory holds now.
  const image = await fetchImage(`data:application/octet-stream;base64,${bytes.toString('base64')}`, {
    maxBytes: MAX_UPLOAD_BYTES,
  }).catch((error: Error) => {
    throw new GraphError(`${where}: ${path}: ${error.message}`);
  });
  return `data:${image.contentType};base64,${bytes.toString('base64')}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

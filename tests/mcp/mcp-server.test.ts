import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { CallToolResult } from '@modelcontextprotocol/client';
import sharp from 'sharp';
import { registry } from '../../blocks/index.js';
import { FAST, newAjv, requestsTo, ROOT, TOKEN, useEmulator } from '../helpers.js';
import { connectHttp, connectStdio, type Connection } from './connect.js';

const handle = useEmulator({ ...FAST, token: TOKEN });
let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'flux-blocks-mcp-'));
});
afterAll(() => rm(out, { recursive: true, force: true }));

type Content = CallToolResult['content'][number];
const ofType = <T extends Content['type']>(result: CallToolResult, type: T) =>
  result.content.filter((item): item is Extract<Content, { type: T }> => item.type === type);
const textOf = (result: CallToolResult) =>
  ofType(result, 'text')
    .map((item) => item.text)
    .join('\n');

/** Waits until `check` holds, polling every 20 ms, up to `ms`. */
async function eventually(check: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
  expect(check()).toBe(true);
}

describe.each([
  ['stdio (spawned CLI)', () => connectStdio(handle.emulator, out)],
  ['Streamable HTTP (in-process, 2025 era: sessions)', () => connectHttp(handle.emulator, out)],
  ['Streamable HTTP (in-process, 2026-07-28 era)', () => connectHttp(handle.emulator, out, { era: 'modern' })],
])('MCP server over %s', (_, connect) => {
  let connection: Connection;
  const results: unknown[] = [];
  const call = async (
    name: string,
    args: Record<string, unknown>,
    options?: Parameters<Connection['client']['callTool']>[1],
  ) => {
    const result = (await connection.client.callTool({ name, arguments: args }, options)) as CallToolResult;
    results.push(result);
    return result;
  };
  beforeAll(async () => {
    connection = await connect();
  });
  afterAll(async () => {
    // Nothing the server said carries the Replicate token: results, and the stderr of the process.
    expect(JSON.stringify(results)).not.toContain(TOKEN);
    expect(connection.stderr()).not.toContain(TOKEN);
    // The cancel test's own aborted call may leave an abort or a late progress notification
    // (sent before the cancel arrived); anything else (a stray line on stdout) is a failure.
    expect(
      connection.transportErrors.filter(
        (error) => !/aborted|progress notification for an unknown token/.test(error.message),
      ),
    ).toEqual([]);
    await connection.close();
  });

  test('tools/list has one tool per block (and run_graph), each with valid JSON Schemas and no credentials input', async () => {
    const { tools } = await connection.client.listTools();
    results.push(tools);
    expect(tools.map((tool) => tool.name)).toEqual([
      'replicate_flux_advanced_model',
      'replicate_flux_kontext',
      'replicate_flux_fill',
      'replicate_flux_2',
      'replicate_flux_lora',
      'replicate_model',
      'replicate_model_search',
      'replicate_flux_trainer',
      'openai_compatible_flux_image',
      'save_image',
      'run_graph',
    ]);
    expect(tools).toHaveLength(registry.list().length + 1);
    const ajv = newAjv({ strict: false });
    for (const tool of tools) {
      expect(() => ajv.compile(tool.inputSchema)).not.toThrow();
      expect(() => ajv.compile(tool.outputSchema!)).not.toThrow();
      expect(tool.inputSchema.properties).not.toHaveProperty('credentials');
      expect(tool.inputSchema.required ?? []).not.toContain('credentials');
      expect(tool.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, openWorldHint: true });
    }
    const advanced = tools[0]!;
    expect(advanced.title).toBe('Replicate Flux Advanced Model');
    expect(advanced.inputSchema.required).toEqual(['prompt']);
    expect((advanced.outputSchema!.properties as Record<string, unknown>).result).toMatchObject({
      type: 'array',
      items: { type: 'string', format: 'uri' },
    });
  });

  test('Flux Advanced returns its URL in structuredContent, an image item of the right aspect ratio, and a link to the saved file', async () => {
    const result = await call('replicate_flux_advanced_model', {
      prompt: 'a lighthouse at dawn',
      aspect_ratio: '3:2',
      output_format: 'png',
    });
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { result: string[]; seed: number };
    expect(structured.result).toHaveLength(1);
    expect(structured.result[0]).toMatch(new RegExp(`^${new URL(handle.emulator.url).origin}/`));
    expect(Number.isInteger(structured.seed)).toBe(true);
    expect(textOf(result)).toContain(structured.result[0]);

    const [image] = ofType(result, 'image');
    // A png that stays over 1 MB after the downscale goes as jpeg: the picture follows the random seed.
    expect(['image/png', 'image/jpeg']).toContain(image!.mimeType);
    expect(image!.data.length).toBeLessThanOrEqual(1_000_000);
    const { width, height, format } = await sharp(Buffer.from(image!.data, 'base64')).metadata();
    expect(`image/${format}`).toBe(image!.mimeType);
    expect(Math.max(width!, height!)).toBe(1024);
    expect(width! / height!).toBeCloseTo(3 / 2, 1);

    const [link] = ofType(result, 'resource_link');
    expect(link!.uri).toMatch(/^flux-blocks:\/\/out\/[0-9a-f]{16}\.png$/);
    const saved = await connection.client.readResource({ uri: link!.uri });
    const blob = (saved.contents[0] as { blob: string }).blob;
    expect(Buffer.from(blob, 'base64').equals(await readFile(join(out, link!.name)))).toBe(true);
    const full = await sharp(Buffer.from(blob, 'base64')).metadata();
    expect(full.width! / full.height!).toBeCloseTo(3 / 2, 1);
  });

  test('structuredContent carries cost_usd when the cost of the call is known (2 images x $0.003), and none when it is not', async () => {
    const known = await call('replicate_flux_advanced_model', {
      prompt: 'a fox',
      num_outputs: 2,
      output_format: 'png',
    });
    expect(known.isError).toBeFalsy();
    expect(known.structuredContent).toMatchObject({
      result: [expect.any(String), expect.any(String)],
      cost_usd: 0.006,
    });
    expect(textOf(known)).toContain('cost: $0.006');
    // Flux 2 Pro's price is unknown: never guessed, so no cost_usd.
    const unknown = await call('replicate_flux_2', { prompt: 'a fox', output_format: 'png' });
    expect(unknown.isError).toBeFalsy();
    expect(Object.keys(unknown.structuredContent!)).not.toContain('cost_usd');
    const graph = await call('run_graph', {
      nodes: [{ id: 'generate', block_id: 'ReplicateFluxAdvancedModelBlock', input_default: { prompt: 'a fox' } }],
    });
    expect(graph.structuredContent).toMatchObject({ failures: [], cost_usd: 0.003 });
  });

  test('an output image that cannot be decoded (truncated png) keeps the result: URL, seed, structuredContent, a note, the saved file', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    handle.plan = { outputBytes: png.subarray(0, 60) };
    const result = await call('replicate_flux_advanced_model', { prompt: 'a fox', output_format: 'png' });
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { result: string[]; seed: number };
    expect(structured.result).toEqual([expect.stringMatching(new RegExp(`^${new URL(handle.emulator.url).origin}/`))]);
    expect(Number.isInteger(structured.seed)).toBe(true);
    const lines = textOf(result).split('\n');
    expect(lines).toContain(`result: ${structured.result[0]}`);
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^${structured.result[0]!.replace(/[.?]/g, '\\$&')}: preview left out: the image could not be decoded \\(.+\\); the URL above is the result\\.$`,
        ),
      ),
    );
    expect(ofType(result, 'image')).toEqual([]);
    // The bytes paid for are still saved as they came.
    const [link] = ofType(result, 'resource_link');
    expect((await readFile(join(out, link!.name))).equals(png.subarray(0, 60))).toBe(true);
  });

  test('run_graph with an output in no image format keeps its outputs, with a note that the preview was left out', async () => {
    handle.plan = { outputBytes: Buffer.from('not an image at all') };
    const result = await call('run_graph', {
      nodes: [{ id: 'generate', block_id: 'ReplicateFluxAdvancedModelBlock', input_default: { prompt: 'a fox' } }],
    });
    expect(result.isError).toBeFalsy();
    const { outputs } = result.structuredContent as { outputs: { generate: { result: string[]; seed: number[] } } };
    expect(outputs.generate.result).toHaveLength(1);
    expect(outputs.generate.seed).toHaveLength(1);
    expect(textOf(result)).toContain(
      `${outputs.generate.result[0]}: preview left out: the image could not be read (The 19 bytes are not an image`,
    );
    expect(ofType(result, 'image')).toEqual([]);
  });

  test('bad arguments give isError naming every bad field, and no request reaches the emulator', async () => {
    const result = await call('replicate_flux_advanced_model', {
      prompt: '',
      steps: 99,
      aspect_ratio: '7:1',
      nonsense: true,
    });
    expect(result.isError).toBe(true);
    const text = textOf(result);
    for (const field of ['prompt', 'steps', 'aspect_ratio', 'nonsense']) expect(text).toContain(field);
    // A value only the chosen model refuses is also refused before any request.
    const model = await call('replicate_flux_advanced_model', {
      prompt: 'a fox',
      replicate_model_name: 'Flux Pro',
      aspect_ratio: '21:9',
    });
    expect(model.isError).toBe(true);
    expect(textOf(model)).toContain('aspect_ratio');
    const credentials = await call('save_image', {
      image: 'https://example.com/a.png',
      credentials: { provider: 'replicate', id: 'x', type: 'api_key' },
    });
    expect(credentials.isError).toBe(true);
    expect(textOf(credentials)).toContain('credentials');
    expect(handle.emulator.requests).toEqual([]);
  });

  test("a failed prediction is an isError result with the block's error message", async () => {
    handle.plan = { outcome: 'failed', error: 'CUDA out of memory' };
    const result = await call('replicate_flux_advanced_model', { prompt: 'a fox' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^Error: .*CUDA out of memory/);
    expect(result.structuredContent).toEqual({ error: expect.stringContaining('CUDA out of memory') });
  });

  test('progress notifications arrive when asked for, growing, out of 100', async () => {
    handle.plan = { startingMs: 200, processingMs: 1500 };
    const progress: Array<{ progress: number; total?: number; message?: string }> = [];
    const result = await call(
      'replicate_flux_advanced_model',
      { prompt: 'a fox' },
      { onprogress: (event) => progress.push(event) },
    );
    expect(result.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.every((event) => event.total === 100)).toBe(true);
    const values = progress.map((event) => event.progress);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(new Set(values).size).toBe(values.length);
    expect(values.at(-1)).toBe(100);
    expect(progress.some((event) => /processing/.test(event.message ?? ''))).toBe(true);
  });

  test('cancelling a call cancels its prediction on the emulator', async () => {
    handle.plan = { startingMs: 50, processingMs: 20_000 };
    const controller = new AbortController();
    const call = connection.client.callTool(
      { name: 'replicate_flux_advanced_model', arguments: { prompt: 'a slow fox' } },
      { signal: controller.signal, onprogress: () => controller.abort(new Error('the agent changed its mind')) },
    );
    await expect(call).rejects.toThrow();
    expect(controller.signal.aborted).toBe(true);
    await eventually(() => requestsTo(handle.emulator, 'POST', /^\/v1\/predictions\/[a-z2-7]+\/cancel$/).length === 1);
  });

  test("run_graph runs examples/generate-edit-save.json and returns each node's outputs with the images", async () => {
    const graph = JSON.parse(await readFile(join(ROOT, 'examples', 'generate-edit-save.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const progress: Array<{ progress: number; total?: number; message?: string }> = [];
    const result = await call('run_graph', graph, { onprogress: (event) => progress.push(event) });
    expect(result.isError).toBeFalsy();
    // Graph progress counts events (no total): each node's outputs show up.
    expect(
      progress.every(
        (event, i) => event.total === undefined && (i === 0 || event.progress > progress[i - 1]!.progress),
      ),
    ).toBe(true);
    for (const node of ['generate', 'edit', 'save'])
      expect(progress.some((event) => event.message?.startsWith(`node ${node}:`))).toBe(true);
    const structured = result.structuredContent as {
      outputs: Record<string, Record<string, unknown[]>>;
      failures: unknown[];
      stopped: unknown[];
    };
    expect(structured.failures).toEqual([]);
    expect(structured.stopped).toEqual([]);
    expect(Object.keys(structured.outputs).sort()).toEqual(['edit', 'generate', 'save']);
    expect(structured.outputs.generate!.result).toHaveLength(1);
    expect(structured.outputs.edit!.result).toHaveLength(1);
    const [path] = structured.outputs.save!.path as string[];
    expect(path).toMatch(/[0-9a-f]{16}\.png$/);
    expect(path!.startsWith(out)).toBe(true);
    expect(ofType(result, 'image')).toHaveLength(2);
    // The node's own file and the server's copy of the edit are the same content: one file, linked once.
    const links = ofType(result, 'resource_link').map((link) => link.name);
    expect(links).toContain(path!.slice(out.length + 1));
    expect(new Set(links).size).toBe(links.length);
  });

  test("run_graph refuses arguments that are no graph in its own words, not a JSON Schema validator's", async () => {
    for (const [graph, message] of [
      [{}, 'Error: Invalid graph: nodes: is required'],
      [{ nodes: [] }, 'Error: Invalid graph: nodes: must have at least 1 item(s)'],
      [{ nodes: [{ id: 'a' }] }, 'Error: Invalid graph: nodes.0.block_id: is required'],
    ] as const) {
      const result = await call('run_graph', graph as Record<string, unknown>);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(message);
    }
    expect(handle.emulator.requests).toEqual([]);
  });

  test('run_graph refuses a graph that cannot run, naming the problem, without a request', async () => {
    const result = await call('run_graph', { nodes: [{ id: 'a', block_id: 'NoSuchBlock' }] });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('Node a: no block with id or name "NoSuchBlock"');
    expect(handle.emulator.requests).toEqual([]);
  });

  test("resources: the manifest and each block's docs page", async () => {
    const { resources } = await connection.client.listResources();
    const uris = resources.map((resource) => resource.uri);
    expect(uris).toContain('flux-blocks://manifest.json');
    for (const block of registry.list()) expect(uris).toContain(`flux-blocks://docs/${block.name}.md`);
    const manifest = await connection.client.readResource({ uri: 'flux-blocks://manifest.json' });
    expect(JSON.parse((manifest.contents[0] as { text: string }).text)).toEqual(registry.manifest());
    const page = await connection.client.readResource({ uri: 'flux-blocks://docs/SaveImageBlock.md' });
    expect(page.contents[0]).toMatchObject({
      mimeType: 'text/markdown',
      text: await readFile(join(ROOT, 'docs', 'SaveImageBlock.md'), 'utf8'),
    });
  });
});

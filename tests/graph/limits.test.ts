import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import pLimit from 'p-limit';
import sharp from 'sharp';
import { createRegistry } from '../../blocks/index.js';
import { GraphError, runGraph, type BlockContext, type Graph } from '../../index.js';
import { contextFor, CREDENTIALS, creates, useEmulator } from '../helpers.js';

const local = useEmulator();
const registry = createRegistry();
let dir: string;
let server: Server;
let origin = '';
/** Downloads the slow server is serving now, and the most at once. */
let serving = 0;
let mostAtOnce = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-limits-'));
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#c63' } })
    .png()
    .toBuffer();
  server = createServer((req, res) => {
    mostAtOnce = Math.max(mostAtOnce, ++serving);
    // /hang never answers; the others answer after 300 ms, so the downloads of one wave overlap.
    if (req.url === '/hang') return;
    setTimeout(() => {
      serving -= 1;
      res.writeHead(200, { 'Content-Type': 'image/png' }).end(png);
    }, 300);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
beforeEach(() => {
  serving = 0;
  mostAtOnce = 0;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const context = (extra: Partial<BlockContext> = {}): BlockContext => ({
  ...contextFor(local.emulator),
  save: { dir, allowedOrigins: [new URL(local.emulator.url).origin, origin] },
  ...extra,
});

/** `count` independent Save Image nodes, each downloading a distinct URL of the slow server. */
const saves = (count: number, path = '/image.png'): Graph => ({
  nodes: Array.from({ length: count }, (_, i) => ({
    id: `save-${i}`,
    block_id: 'SaveImageBlock',
    input_default: { image: `${origin}${path}?n=${i}` },
  })),
  links: [],
});

describe('maxPredictions', () => {
  // generate (4 images) -> edit each (4 predictions) -> save each: 5 predictions in all.
  const fanOut: Graph = {
    nodes: [
      {
        id: 'generate',
        block_id: 'ReplicateFluxAdvancedModelBlock',
        input_default: {
          credentials: CREDENTIALS,
          prompt: 'a fox',
          replicate_model_name: 'Flux Schnell',
          num_outputs: 4,
        },
      },
      {
        id: 'edit',
        block_id: 'ReplicateFluxKontextBlock',
        input_default: { credentials: CREDENTIALS, prompt: 'make it winter' },
      },
      { id: 'save', block_id: 'SaveImageBlock', input_default: { store_as: 'data_uri' } },
    ],
    links: [
      { source_id: 'generate', source_name: 'result', sink_id: 'edit', sink_name: 'input_image' },
      { source_id: 'edit', source_name: 'result', sink_id: 'save', sink_name: 'image' },
    ],
  };

  test('past the cap, no further prediction is created; one failure names the cap; images already made are still saved', async () => {
    const result = await runGraph(fanOut, { registry, context: context(), maxPredictions: 3, concurrency: 1 });
    expect(creates(local.emulator).sent).toBe(3);
    expect(result.failures).toEqual([
      {
        node: 'edit',
        block: 'ReplicateFluxKontextBlock',
        error: expect.stringMatching(/^Not run: the graph run reached its cap of 3 predictions \(maxPredictions\)/),
      },
    ]);
    expect(result.stopped).toEqual(['edit']);
    expect(result.outputs.filter((o) => o.node === 'save' && o.output === 'data_uri')).toHaveLength(2);
  });

  test('the default cap is 50, and a graph under it runs whole', async () => {
    const result = await runGraph(fanOut, { registry, context: context() });
    expect(result.failures).toEqual([]);
    expect(creates(local.emulator).created).toBe(5);
  });

  test.each([
    ['maxPredictions', 0],
    ['concurrency', 1.5],
    ['concurrency', -1],
  ])('%s %p is refused before anything runs', async (name, value) => {
    await expect(runGraph(fanOut, { registry, context: context(), [name]: value })).rejects.toThrow(
      new GraphError(`${name} must be a positive whole number, not ${value}`),
    );
    expect(local.emulator.requests).toEqual([]);
  });
});

describe('concurrency and downloads', () => {
  test('at most `concurrency` node runs go at once', async () => {
    const result = await runGraph(saves(12), { registry, context: context(), concurrency: 3 });
    expect(result.failures).toEqual([]);
    expect(mostAtOnce).toBe(3);
  });

  test('by default, at most 8 node runs and 8 downloads at once', async () => {
    await runGraph(saves(20), { registry, context: context() });
    expect(mostAtOnce).toBe(8);
  });

  test('downloads queue at 8 per graph run even with more node runs going', async () => {
    const result = await runGraph(saves(20), { registry, context: context(), concurrency: 50 });
    expect(result.outputs.filter((o) => o.output === 'path')).toHaveLength(20);
    expect(mostAtOnce).toBe(8);
  });

  test("the host's own limiter (context.downloads) replaces the default", async () => {
    await runGraph(saves(10), { registry, context: context({ downloads: pLimit(2) }), concurrency: 50 });
    expect(mostAtOnce).toBe(2);
  });
});

describe("the host's abort reason", () => {
  test('reaches the messages of the nodes it stops', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort('interrupted (Ctrl-C)'), 100);
    const result = await runGraph(saves(1, '/hang'), { registry, context: context({ signal: controller.signal }) });
    expect(result.failures).toEqual([
      {
        node: 'save-0',
        block: 'SaveImageBlock',
        error: expect.stringMatching(/^The download was interrupted \(Ctrl-C\)\./),
      },
    ]);
  });
});

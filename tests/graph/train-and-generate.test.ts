import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { createRegistry } from '../../blocks/index.js';
import { runGraph, type BlockContext, type Graph } from '../../index.js';
import { contextFor, FAST, requestsTo, ROOT, useEmulator } from '../helpers.js';

const local = useEmulator({ ...FAST, trainingMs: 100 });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-train-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('examples/train-and-generate.json', () => {
  test('train -> generate with the trained version -> save, on the emulator', async () => {
    const graph = JSON.parse(await readFile(join(ROOT, 'examples', 'train-and-generate.json'), 'utf8')) as Graph;
    const context: BlockContext = {
      ...contextFor(local.emulator),
      save: { dir, allowedOrigins: [new URL(local.emulator.url).origin] },
    };
    const result = await runGraph(graph, { registry: createRegistry(), context });
    expect(result.failures).toEqual([]);
    const value = (node: string, output: string) =>
      result.outputs.filter((o) => o.node === node && o.output === output).map((o) => o.value);
    const [version] = value('train', 'version') as string[];
    expect(version).toMatch(/^my-name\/my-product-lora:[0-9a-f]{64}$/);
    // The generation ran the trained version itself.
    const [create] = requestsTo(local.emulator, 'POST', /^\/v1\/predictions$/);
    expect(create!.body).toEqual({
      version,
      input: { prompt: 'a photo of ZXQ on a marble table, soft window light', output_format: 'png' },
    });
    const [path] = value('save', 'path') as string[];
    expect((await sharp(await readFile(path!)).metadata()).format).toBe('png');
  });
});

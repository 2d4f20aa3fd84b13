import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { createRegistry } from '../../blocks/index.js';
import { runGraph, type BlockContext, type Graph } from '../../index.js';
import { contextFor, FAST, requestsTo, ROOT, TOKEN, useEmulator } from '../helpers.js';

const local = useEmulator({ ...FAST, trainingMs: 100 });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-train-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('examples/train-and-generate.json', () => {
  test('train -> generate with the trained version, and with the trained weights as a LoRA -> save both, on the emulator', async () => {
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
    const [weights] = value('train', 'weights') as string[];
    expect(version).toMatch(/^my-name\/my-product-lora:[0-9a-f]{64}$/);
    // The new version exists at the destination, and the weights URL serves a tar.
    const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };
    const listed = (await (
      await fetch(`${local.emulator.url}/models/my-name/my-product-lora/versions`, auth)
    ).json()) as { results: Array<{ id: string }> };
    expect(listed.results.map((v) => v.id)).toContain(version!.split(':')[1]);
    const tar = await fetch(weights!);
    expect([tar.status, tar.headers.get('content-type')]).toEqual([200, 'application/x-tar']);
    // The generation ran the trained version itself...
    const [byVersion] = requestsTo(local.emulator, 'POST', /^\/v1\/predictions$/);
    expect(byVersion!.body).toEqual({
      version,
      input: { prompt: 'a photo of ZXQ on a marble table, soft window light', output_format: 'png' },
    });
    // ...and Flux Dev LoRA loaded the trained weights, as the emulator saw in the prediction's input.
    const [byLora] = requestsTo(
      local.emulator,
      'POST',
      /^\/v1\/models\/black-forest-labs\/flux-dev-lora\/predictions$/,
    );
    expect(byLora!.body).toMatchObject({
      input: { lora_weights: weights, lora_scale: 0.9, prompt: expect.stringContaining('ZXQ') },
    });
    const [created] = value('generate-lora', 'result') as string[];
    const id = /\/files\/([a-z2-7]+)\//.exec(created!)![1]!;
    const prediction = (await (await fetch(`${local.emulator.url}/predictions/${id}`, auth)).json()) as {
      model: string;
      input: Record<string, unknown>;
    };
    expect([prediction.model, prediction.input.lora_weights]).toEqual(['black-forest-labs/flux-dev-lora', weights]);
    for (const node of ['save', 'save-lora']) {
      const [path] = value(node, 'path') as string[];
      expect((await sharp(await readFile(path!)).metadata()).format).toBe('png');
    }
  });
});

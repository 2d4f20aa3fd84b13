import { expect, test } from '@jest/globals';
import sharp from 'sharp';
import { createRegistry } from '../../blocks/index.js';
import { runGraph, type Graph } from '../../index.js';
import { contextFor, requestsTo, useEmulator } from '../helpers.js';

const local = useEmulator();

test("the Flux Advanced block's result feeds this block's images: the generated image is sent as an edit's image part", async () => {
  const graph: Graph = {
    nodes: [
      {
        id: 'generate',
        block_id: 'ReplicateFluxAdvancedModelBlock',
        input_default: {
          credentials: { provider: 'replicate', id: 'r', type: 'api_key' },
          prompt: 'A lighthouse',
          aspect_ratio: '3:2',
          output_format: 'png',
          seed: 1,
        },
      },
      {
        id: 'restyle',
        block_id: 'OpenAICompatibleFluxImageBlock',
        input_default: {
          credentials: { provider: 'openai_compatible', id: 'o', type: 'api_key' },
          base_url: local.emulator.url,
          model: 'flux-kontext-pro',
          prompt: 'Make it a watercolor',
        },
      },
    ],
    links: [{ source_id: 'generate', source_name: 'result', sink_id: 'restyle', sink_name: 'images' }],
  } as Graph;
  const result = await runGraph(graph, {
    registry: createRegistry(),
    context: { ...contextFor(local.emulator), save: { allowedOrigins: [new URL(local.emulator.url).origin] } },
  });
  expect(result.failures).toEqual([]);
  const generated = result.outputs.find((o) => o.node === 'generate' && o.output === 'result')!.value as string;
  const restyled = result.outputs
    .filter((o) => o.node === 'restyle' && o.output === 'result')
    .map((o) => o.value as string);
  expect(restyled).toHaveLength(1);
  const generatedBytes = Buffer.from(await (await fetch(generated)).arrayBuffer());
  const [edit] = requestsTo(local.emulator, 'POST', /^\/v1\/images\/edits$/);
  expect((edit!.body as { image: unknown }).image).toEqual([
    { filename: 'image-1.png', type: 'image/png', bytes: generatedBytes.length },
  ]);
  // Without a ratio, the edit keeps the 3:2 of the generated image.
  const { width, height } = await sharp(Buffer.from(await (await fetch(restyled[0]!)).arrayBuffer())).metadata();
  expect(width! / height!).toBeCloseTo(3 / 2, 1);
});

test("the same graph without the emulator's origin trusted: the private-address rule refuses the image, nothing is sent", async () => {
  const graph = {
    nodes: [
      {
        id: 'generate',
        block_id: 'ReplicateFluxAdvancedModelBlock',
        input_default: { credentials: { provider: 'replicate', id: 'r', type: 'api_key' }, prompt: 'A lighthouse' },
      },
      {
        id: 'restyle',
        block_id: 'OpenAICompatibleFluxImageBlock',
        input_default: {
          credentials: { provider: 'openai_compatible', id: 'o', type: 'api_key' },
          base_url: local.emulator.url,
          model: 'flux-kontext-pro',
          prompt: 'Make it a watercolor',
        },
      },
    ],
    links: [{ source_id: 'generate', source_name: 'result', sink_id: 'restyle', sink_name: 'images' }],
  } as Graph;
  const result = await runGraph(graph, { registry: createRegistry(), context: contextFor(local.emulator) });
  expect(result.failures).toEqual([
    {
      node: 'restyle',
      block: 'OpenAICompatibleFluxImageBlock',
      error: expect.stringMatching(
        /^images\.0: http:\/\/127\.0\.0\.1:\d+\/files\/\S+ is a private, loopback or link-local address/,
      ),
    },
  ]);
  expect(requestsTo(local.emulator, 'POST', /^\/v1\/images\//)).toEqual([]);
});

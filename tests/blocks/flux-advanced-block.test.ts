import { describe, expect, test } from '@jest/globals';
import { ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { MODELS } from '../../shared/flux/catalog.js';
import { collect, contextFor, CREDENTIALS, requestsTo, useEmulator } from '../helpers.js';

const local = useEmulator();

const base = { credentials: CREDENTIALS, prompt: 'a red fox in snow', seed: 42 };

/** Runs the block and returns the one create request the emulator saw. */
async function sent(input: Record<string, unknown>) {
  const outputs = await collect(block, { ...base, ...input }, contextFor(local.emulator));
  expect(outputs.map(([name]) => name)).toEqual(['result', 'seed']);
  const creates = requestsTo(local.emulator, 'POST', /^\/v1\/models\//);
  expect(creates).toHaveLength(1);
  return { path: creates[0]!.path, body: creates[0]!.body as { input: Record<string, unknown> }, outputs };
}

describe('request body sent for each model', () => {
  test('Flux Schnell (default) gets no steps, guidance, interval or safety_tolerance', async () => {
    const { path, body } = await sent({});
    expect(path).toBe('/v1/models/black-forest-labs/flux-schnell/predictions');
    expect(body).toEqual({
      input: { prompt: 'a red fox in snow', seed: 42, aspect_ratio: '1:1', output_format: 'webp', output_quality: 80 },
    });
  });

  test('Flux Pro gets steps, guidance, interval and safety_tolerance under its own names', async () => {
    const { path, body } = await sent({
      replicate_model_name: 'Flux Pro',
      steps: 40,
      guidance: 4.5,
      interval: 3,
      safety_tolerance: 5,
      aspect_ratio: '16:9',
      output_format: 'png',
      output_quality: 95,
    });
    expect(path).toBe('/v1/models/black-forest-labs/flux-pro/predictions');
    expect(body.input).toEqual({
      prompt: 'a red fox in snow',
      seed: 42,
      aspect_ratio: '16:9',
      output_format: 'png',
      output_quality: 95,
      steps: 40,
      guidance: 4.5,
      interval: 3,
      safety_tolerance: 5,
    });
  });

  test('Flux Pro 1.1 gets safety_tolerance but no steps, guidance or interval', async () => {
    const { path, body } = await sent({ replicate_model_name: 'Flux Pro 1.1', safety_tolerance: 6 });
    expect(path).toBe('/v1/models/black-forest-labs/flux-1.1-pro/predictions');
    expect(body.input).toEqual({
      prompt: 'a red fox in snow',
      seed: 42,
      aspect_ratio: '1:1',
      output_format: 'webp',
      output_quality: 80,
      safety_tolerance: 6,
    });
  });

  test('Flux Dev gets steps as num_inference_steps, and guidance', async () => {
    const { path, body } = await sent({
      replicate_model_name: 'Flux Dev',
      steps: 30,
      guidance: 7.5,
      aspect_ratio: '21:9',
    });
    expect(path).toBe('/v1/models/black-forest-labs/flux-dev/predictions');
    expect(body.input).toEqual({
      prompt: 'a red fox in snow',
      seed: 42,
      aspect_ratio: '21:9',
      output_format: 'webp',
      output_quality: 80,
      num_inference_steps: 30,
      guidance: 7.5,
    });
  });

  test('Flux 1.1 Pro Ultra gets no output_quality, steps, guidance or interval', async () => {
    const { path, body } = await sent({
      replicate_model_name: 'Flux 1.1 Pro Ultra',
      output_format: 'jpg',
      aspect_ratio: '9:21',
    });
    expect(path).toBe('/v1/models/black-forest-labs/flux-1.1-pro-ultra/predictions');
    expect(body.input).toEqual({
      prompt: 'a red fox in snow',
      seed: 42,
      aspect_ratio: '9:21',
      output_format: 'jpg',
      safety_tolerance: 2,
    });
  });

  test('every parameter sent is one the chosen model takes', async () => {
    for (const [name, model] of [
      ['Flux Schnell', 'black-forest-labs/flux-schnell'],
      ['Flux Pro', 'black-forest-labs/flux-pro'],
      ['Flux Pro 1.1', 'black-forest-labs/flux-1.1-pro'],
      ['Flux Dev', 'black-forest-labs/flux-dev'],
      ['Flux 1.1 Pro Ultra', 'black-forest-labs/flux-1.1-pro-ultra'],
    ] as const) {
      local.emulator.requests.splice(0);
      const { body } = await sent({ replicate_model_name: name, output_format: 'png' });
      expect(Object.keys(body.input).filter((param) => !(param in MODELS[model].inputs))).toEqual([]);
    }
  });
});

describe('seed', () => {
  test('a given seed is sent and yielded', async () => {
    const { body, outputs } = await sent({ seed: 4294967295 });
    expect(body.input.seed).toBe(4294967295);
    expect(outputs.at(-1)).toEqual(['seed', 4294967295]);
  });

  test.each([[undefined], [null]])('seed %p draws a random 32-bit seed, sends it and yields it', async (seed) => {
    const seeds = new Set<unknown>();
    for (let i = 0; i < 3; i++) {
      local.emulator.requests.splice(0);
      const { body, outputs } = await sent({ seed });
      expect(Number.isInteger(body.input.seed)).toBe(true);
      expect(body.input.seed).toBeGreaterThanOrEqual(0);
      expect(body.input.seed).toBeLessThan(2 ** 32);
      expect(outputs.at(-1)).toEqual(['seed', body.input.seed]);
      seeds.add(body.input.seed);
    }
    expect(seeds.size).toBe(3);
  });
});

test('result is the URL of an image the emulator serves', async () => {
  const { outputs } = await sent({ output_format: 'png' });
  const url = outputs[0]![1] as string;
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('image/png');
  expect([...new Uint8Array(await response.arrayBuffer()).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
});

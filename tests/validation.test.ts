import { expect, test } from '@jest/globals';
import { ReplicateFluxAdvancedModelBlock as block } from '../blocks/index.js';
import { collect, contextFor, CREDENTIALS, useEmulator } from './helpers.js';

const local = useEmulator();

const valid = { credentials: CREDENTIALS, prompt: 'a lighthouse' };

/** The block's outputs for `input`; asserts they are one error and that nothing reached the API. */
async function inputError(input: unknown, context = contextFor(local.emulator)): Promise<string> {
  const outputs = await collect(block, input, context);
  expect(outputs).toHaveLength(1);
  expect(outputs[0]![0]).toBe('error');
  expect(local.emulator.requests).toEqual([]);
  return outputs[0]![1] as string;
}

test.each([
  [{ output_quality: 101 }, 'output_quality: must be <= 100'],
  [{ output_quality: -1 }, 'output_quality: must be >= 0'],
  [{ steps: 0 }, 'steps: must be >= 1'],
  [{ steps: 51 }, 'steps: must be <= 50'],
  [{ steps: 2.5 }, 'steps: must be an integer'],
  [{ guidance: 11 }, 'guidance: must be <= 10'],
  [{ interval: 0.5 }, 'interval: must be >= 1'],
  [{ safety_tolerance: 7 }, 'safety_tolerance: must be <= 6'],
  [{ seed: -1 }, 'seed: must be >= 0'],
  [{ seed: 2 ** 32 }, 'seed: must be <= 4294967295'],
  [{ aspect_ratio: '7:3' }, 'aspect_ratio: must be one of "1:1"'],
  [{ output_format: 'gif' }, 'output_format: must be one of "webp", "jpg", "png"'],
  [{ replicate_model_name: 'Flux Ultra' }, 'replicate_model_name: must be one of "Flux Schnell"'],
  [{ prompt: '' }, 'prompt: must not be empty'],
  [{ prompt: undefined }, 'prompt: is required'],
  [{ steps: '25' }, 'steps: must be a number, got string'],
  [{ guidnce: 3 }, 'input: has unknown field(s) guidnce'],
])('each field keeps its own range whatever the model: %j', async (change, message) => {
  expect(await inputError({ ...valid, ...change })).toContain(message);
});

test.each([
  ['Flux Pro', { guidance: 6 }, 'guidance: must be <= 5 with Flux Pro'],
  ['Flux Pro', { guidance: 1 }, 'guidance: must be >= 2 with Flux Pro'],
  ['Flux Pro', { aspect_ratio: '21:9' }, 'aspect_ratio: must be one of'],
  ['Flux Pro 1.1', { aspect_ratio: '9:21' }, 'aspect_ratio: must be one of'],
  ['Flux 1.1 Pro Ultra', { output_format: 'webp' }, 'output_format: must be one of "jpg", "png" with Flux 1.1 Pro Ultra'],
])('a value outside %s\'s own range is refused before any request: %j', async (model, change, message) => {
  expect(await inputError({ ...valid, replicate_model_name: model, ...change })).toContain(message);
});

test('values the chosen model does not use are not checked against other models', async () => {
  // guidance 8 is out of Flux Pro's range but Flux Schnell does not take guidance at all.
  const outputs = await collect(block, { ...valid, guidance: 8, steps: 50 }, contextFor(local.emulator));
  expect(outputs.map(([name]) => name)).toEqual(['result', 'seed']);
});

test('one error names every bad field', async () => {
  const message = await inputError({ ...valid, output_quality: 200, steps: 0, safety_tolerance: 9 });
  expect(message).toMatch(/^Invalid input: /);
  for (const part of ['output_quality: must be <= 100', 'steps: must be >= 1', 'safety_tolerance: must be <= 6']) {
    expect(message).toContain(part);
  }
});

test.each([[null], [[1]], ['a prompt'], [42]])('input %j that is not an object is an error', async (input) => {
  expect(await inputError(input)).toMatch(/^Invalid input: input: must be an object/);
});

test('credentials must be the Replicate API-key meta object, never the key itself', async () => {
  expect(await inputError({ ...valid, credentials: 'r8_secret_value_here' })).toContain('credentials: must be an object, got string');
  expect(await inputError({ ...valid, credentials: { ...CREDENTIALS, provider: 'openai' } })).toContain('credentials.provider: must be "replicate"');
  expect(await inputError({ prompt: 'x' })).toContain('credentials: is required');
});

test('a run without an API key is an error before any request', async () => {
  const message = await inputError(valid, { runner: { baseUrl: local.emulator.url } });
  expect(message).toContain('credentials: no Replicate API token');
});

test('bad runner options are an error before any request', async () => {
  expect(await inputError(valid, contextFor(local.emulator, { baseUrl: 'not a url' }))).toBe('Invalid runner options: baseUrl: must be an http(s) URL');
  expect(await inputError(valid, contextFor(local.emulator, { baseUrl: 'ftp://example.com/v1' }))).toContain('baseUrl: must be an http(s) URL');
  expect(await inputError(valid, contextFor(local.emulator, { timeoutMs: -5 }))).toBe('Invalid runner options: timeoutMs: must be > 0');
  expect(await inputError(valid, contextFor(local.emulator, { waitSeconds: 61 }))).toBe('Invalid runner options: waitSeconds: must be <= 60');
});

import { expect, test } from '@jest/globals';
import { ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { collect, contextFor, CREDENTIALS, useEmulator } from '../helpers.js';

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

const json = (text: string) => JSON.parse(text) as Record<string, unknown>;
const validJson = JSON.stringify(valid).slice(0, -1);

// Each row: a change to a valid input, and what the one error must say.
const INVALID: Array<[string, unknown, string]> = [
  ['prompt: number', { ...valid, prompt: 42 }, 'prompt: must be a string, got number'],
  ['prompt: null', { ...valid, prompt: null }, 'prompt: must be a string, got null'],
  ['prompt: array', { ...valid, prompt: ['a lighthouse'] }, 'prompt: must be a string, got array'],
  ['prompt: empty', { ...valid, prompt: '' }, 'prompt: must not be empty'],
  ['prompt: whitespace only', { ...valid, prompt: ' \n\t ' }, 'prompt: must not be empty'],
  ['prompt: huge', { ...valid, prompt: 'x'.repeat(10_001) }, 'prompt: must be at most 10000 characters'],
  ['prompt: missing', { credentials: CREDENTIALS }, 'prompt: is required'],
  ['seed: NaN', { ...valid, seed: NaN }, 'seed: must be a number, got NaN'],
  ['seed: Infinity', { ...valid, seed: Infinity }, 'seed: must be an integer'],
  ['seed: negative', { ...valid, seed: -1 }, 'seed: must be >= 0'],
  ['seed: fractional', { ...valid, seed: 1.5 }, 'seed: must be an integer'],
  ['seed: 2^32', { ...valid, seed: 2 ** 32 }, 'seed: must be <= 4294967295'],
  ['seed: string', { ...valid, seed: '42' }, 'seed: must be a number, got string'],
  ['steps: 0', { ...valid, steps: 0 }, 'steps: must be >= 1'],
  ['steps: 51', { ...valid, steps: 51 }, 'steps: must be <= 50'],
  ['steps: fractional', { ...valid, steps: 2.5 }, 'steps: must be an integer'],
  ['steps: string', { ...valid, steps: '25' }, 'steps: must be a number, got string'],
  ['steps: NaN', { ...valid, steps: NaN }, 'steps: must be a number, got NaN'],
  ['guidance: just below 0', { ...valid, guidance: -0.01 }, 'guidance: must be >= 0'],
  ['guidance: just above 10', { ...valid, guidance: 10.01 }, 'guidance: must be <= 10'],
  ['guidance: Infinity', { ...valid, guidance: Infinity }, 'guidance: must be <= 10'],
  ['guidance: -Infinity', { ...valid, guidance: -Infinity }, 'guidance: must be >= 0'],
  ['guidance: boolean', { ...valid, guidance: true }, 'guidance: must be a number, got boolean'],
  ['interval: just below 1', { ...valid, interval: 0.99 }, 'interval: must be >= 1'],
  ['interval: just above 4', { ...valid, interval: 4.01 }, 'interval: must be <= 4'],
  ['output_quality: -1', { ...valid, output_quality: -1 }, 'output_quality: must be >= 0'],
  ['output_quality: 101', { ...valid, output_quality: 101 }, 'output_quality: must be <= 100'],
  ['output_quality: fractional', { ...valid, output_quality: 50.5 }, 'output_quality: must be an integer'],
  ['safety_tolerance: 0', { ...valid, safety_tolerance: 0 }, 'safety_tolerance: must be >= 1'],
  ['safety_tolerance: 7', { ...valid, safety_tolerance: 7 }, 'safety_tolerance: must be <= 6'],
  ['aspect_ratio: unknown', { ...valid, aspect_ratio: '7:3' }, 'aspect_ratio: must be one of "1:1", "16:9"'],
  ['aspect_ratio: other notation', { ...valid, aspect_ratio: '16x9' }, 'aspect_ratio: must be one of "1:1"'],
  ['aspect_ratio: number', { ...valid, aspect_ratio: 1 }, 'aspect_ratio: must be one of "1:1", "16:9", "2:3"'],
  ['output_format: unknown', { ...valid, output_format: 'gif' }, 'output_format: must be one of "webp", "jpg", "png"'],
  [
    'output_format: wrong case',
    { ...valid, output_format: 'PNG' },
    'output_format: must be one of "webp", "jpg", "png"',
  ],
  [
    'model: unknown',
    { ...valid, replicate_model_name: 'Flux Ultra' },
    'replicate_model_name: must be one of "Flux Schnell", "Flux Pro"',
  ],
  [
    'model: wrong case',
    { ...valid, replicate_model_name: 'flux schnell' },
    'replicate_model_name: must be one of "Flux Schnell"',
  ],
  ['extra field: typo', { ...valid, guidnce: 3 }, 'input: has unknown field(s) guidnce'],
  [
    'extra field: a pasted token',
    { ...valid, api_key: 'r8_pasted_secret_value' },
    'input: has unknown field(s) api_key',
  ],
  ['credentials: missing', { prompt: 'x' }, 'credentials: is required'],
  [
    'credentials: empty object',
    { ...valid, credentials: {} },
    'credentials.provider: must be "replicate"; credentials.id: is required; credentials.type: must be "api_key"',
  ],
  [
    'credentials: the key itself',
    { ...valid, credentials: 'r8_secret_value_here' },
    'credentials: must be an object, got string',
  ],
  [
    'credentials: other provider',
    { ...valid, credentials: { ...CREDENTIALS, provider: 'openai' } },
    'credentials.provider: must be "replicate"',
  ],
  [
    'credentials: other type',
    { ...valid, credentials: { ...CREDENTIALS, type: 'oauth2' } },
    'credentials.type: must be "api_key"',
  ],
  ['credentials: empty id', { ...valid, credentials: { ...CREDENTIALS, id: '' } }, 'credentials.id: must not be empty'],
  [
    '__proto__ key (JSON)',
    json(`${validJson},"__proto__":{"polluted":true}}`),
    'input: has unknown field(s) __proto__',
  ],
  [
    'constructor key (JSON)',
    json(`${validJson},"constructor":{"prototype":{"polluted":true}}}`),
    'input: has unknown field(s) constructor',
  ],
  [
    '__proto__ in credentials (JSON)',
    { ...valid, credentials: json('{"provider":"replicate","id":"k","type":"api_key","__proto__":{"polluted":true}}') },
    'credentials: has unknown field(s) __proto__',
  ],
  ['input: null', null, 'input: must be an object, got null'],
  ['input: array', [valid], 'input: must be an object, got array'],
  ['input: string', 'a lighthouse', 'input: must be an object, got string'],
];

/** The parts of an input error, one per field: `field: why`. */
const parts = (message: string) => message.replace(/^Invalid input: /, '').split('; ');

test.each(INVALID)('%s: one error naming the field, no request', async (_, input, message) => {
  const error = await inputError(input);
  expect(error).toMatch(/^Invalid input: /);
  // Each expected part begins a part of the error, and a model's own check (`... with Flux Pro`)
  // counts only where the row expects it: the block's own range check is what these rows prove.
  for (const part of parts(message)) {
    expect(
      parts(error).filter(
        (actual) => actual.startsWith(part) && (part.includes(' with ') || !actual.includes(' with Flux')),
      ),
    ).toHaveLength(1);
  }
  expect(error).not.toContain('r8_');
  expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
});

test.each([
  ['empty', ''],
  ['whitespace', '   '],
  ['a line break (header injection)', 'r8_abcdef\r\nX-Injected: 1'],
  ['non-ASCII', 'r8_tökén_0123456789'],
])('an API token that is %s is an error before any request', async (_, apiKey) => {
  const message = await inputError(valid, { credentials: { apiKey }, runner: { baseUrl: local.emulator.url } });
  expect(message).toMatch(/^credentials: /);
  if (apiKey.trim()) expect(message).not.toContain(apiKey.trim());
});

test.each([
  ['Flux Pro', { guidance: 6 }, 'guidance: must be <= 5 with Flux Pro'],
  ['Flux Pro', { guidance: 1 }, 'guidance: must be >= 2 with Flux Pro'],
  ['Flux Pro', { aspect_ratio: '21:9' }, 'aspect_ratio: must be one of'],
  ['Flux Pro 1.1', { aspect_ratio: '9:21' }, 'aspect_ratio: must be one of'],
  [
    'Flux 1.1 Pro Ultra',
    { output_format: 'webp' },
    'output_format: must be one of "jpg", "png" with Flux 1.1 Pro Ultra',
  ],
])("a value outside %s's own range is refused before any request: %j", async (model, change, message) => {
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
  expect(parts(message)).toEqual([
    'steps: must be >= 1',
    'output_quality: must be <= 100',
    'safety_tolerance: must be <= 6',
  ]);
});

test('a run without an API key is an error before any request', async () => {
  const message = await inputError(valid, { runner: { baseUrl: local.emulator.url } });
  expect(message).toContain('credentials: no Replicate API token');
});

test('bad runner options are an error before any request', async () => {
  expect(await inputError(valid, contextFor(local.emulator, { baseUrl: 'not a url' }))).toBe(
    'Invalid runner options: baseUrl: must be an http(s) URL',
  );
  expect(await inputError(valid, contextFor(local.emulator, { baseUrl: 'ftp://example.com/v1' }))).toContain(
    'baseUrl: must be an http(s) URL',
  );
  expect(await inputError(valid, contextFor(local.emulator, { timeoutMs: -5 }))).toBe(
    'Invalid runner options: timeoutMs: must be > 0',
  );
  expect(await inputError(valid, contextFor(local.emulator, { waitSeconds: 61 }))).toBe(
    'Invalid runner options: waitSeconds: must be <= 60',
  );
});

import { describe, expect, test } from '@jest/globals';
import { ReplicateModelBlock as block } from '../../blocks/index.js';
import { collect, contextFor, CREDENTIALS, errorOf, names, requestsTo, useEmulator } from '../helpers.js';

const local = useEmulator();
const LORA = 'lucataco/flux-schnell-lora';
const LORA_VERSION = '2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574';
const loraInput = { prompt: 'a frosting lane cake', hf_lora: 'alvdansen/frosting_lane_flux', num_outputs: 2 };

const run = (model: string, input: Record<string, unknown>) =>
  collect(block, { credentials: CREDENTIALS, model, input }, contextFor(local.emulator));
const lookups = () => requestsTo(local.emulator, 'GET', /^\/v1\/models\//).map((r) => r.path);
const createsSent = () =>
  requestsTo(local.emulator, 'POST', /predictions$/).map((r) => ({ path: r.path, body: r.body }));

describe('which path a model reference takes', () => {
  test('a community owner/name: its latest version is looked up, then run by version through POST /predictions', async () => {
    const outputs = await run(LORA, loraInput);
    expect(lookups()).toEqual([`/v1/models/${LORA}`]);
    expect(createsSent()).toEqual([
      { path: '/v1/predictions', body: { version: `${LORA}:${LORA_VERSION}`, input: loraInput } },
    ]);
    // One result per output item, then the raw output.
    expect(names(outputs)).toEqual(['result', 'result', 'output']);
    expect(outputs[2]![1]).toEqual([outputs[0]![1], outputs[1]![1]]);
    expect(outputs[0]![1]).toMatch(/\/files\/[a-z2-7]+\/out-0\.webp$/);
  });

  test('an official owner/name runs through its model path, after the lookup that says it is official', async () => {
    const outputs = await run('black-forest-labs/flux-1.1-pro', { prompt: 'a red fox', seed: 1 });
    expect(lookups()).toEqual(['/v1/models/black-forest-labs/flux-1.1-pro']);
    expect(createsSent()).toEqual([
      {
        path: '/v1/models/black-forest-labs/flux-1.1-pro/predictions',
        body: { input: { prompt: 'a red fox', seed: 1 } },
      },
    ]);
    // A single-URI output: one result, and the output is that URI.
    expect(names(outputs)).toEqual(['result', 'output']);
    expect(outputs[1]![1]).toBe(outputs[0]![1]);
  });

  test.each([`${LORA}:${LORA_VERSION}`, LORA_VERSION])('%s runs that version with no lookup', async (model) => {
    expect(names(await run(model, { prompt: 'x' }))).toEqual(['result', 'output']);
    expect(lookups()).toEqual([]);
    expect(createsSent()).toEqual([{ path: '/v1/predictions', body: { version: model, input: { prompt: 'x' } } }]);
  });
});

describe("input checked against the version's openapi_schema before any prediction", () => {
  test.each<[Record<string, unknown>, string]>([
    [{ prompt: 'x', output_format: 'gif' }, 'input.output_format: must be one of "webp", "jpg", "png"'],
    [{ prompt: 'x', output_quality: 101 }, 'input.output_quality: must be <= 100'],
    [{ prompt: 'x', num_outputs: 'two' }, 'input.num_outputs: must be integer'],
    [{ hf_lora: 'a/b' }, 'input.prompt: is required'],
  ])('%j', async (input, reason) => {
    const message = errorOf(await run(LORA, input));
    expect(message).toBe(
      `Model ${LORA} (version ${LORA_VERSION.slice(0, 12)}) refuses this input: ${reason}. Fix the listed fields; the model's page on Replicate gives its limits.`,
    );
    expect(lookups()).toHaveLength(1);
    expect(createsSent()).toEqual([]);
  });

  test("an official model's published schema applies too", async () => {
    expect(errorOf(await run('black-forest-labs/flux-schnell', { prompt: 'x', num_outputs: 5 }))).toContain(
      'input.num_outputs: must be <= 4',
    );
    expect(createsSent()).toEqual([]);
  });

  test("a pinned version is not looked up: Replicate's own 422 names the field", async () => {
    expect(errorOf(await run(`${LORA}:${LORA_VERSION}`, { prompt: 'x', output_format: 'gif' }))).toMatch(
      /^Replicate API error 422 Input validation failed: output_format must be one of/,
    );
  });
});

describe('errors', () => {
  test('an unknown model is not_found, with no create', async () => {
    expect(errorOf(await run('nobody/nothing', { prompt: 'x' }))).toBe(
      'Replicate API error 404 Not found: Model nobody/nothing was not found. Check the model name (owner/name or version id) and the base URL.',
    );
    expect(createsSent()).toEqual([]);
  });

  test('a lookup answer that is not a model is bad_response', async () => {
    local.emulator.inject({ route: 'model', answer: { status: 200, body: { detail: 'hello' } } });
    expect(errorOf(await run(LORA, { prompt: 'x' }))).toMatch(
      /answered GET \/models\/lucataco\/flux-schnell-lora with JSON that is not a model \(owner: is required; name: is required\)\./,
    );
  });

  test('a lookup that fails once is retried', async () => {
    local.emulator.inject({ route: 'model', answer: { status: 503 } });
    expect(names(await run(LORA, { prompt: 'x' }))).toEqual(['result', 'output']);
    expect(lookups()).toHaveLength(2);
  });

  test.each([
    ['flux-schnell', 'must be owner/name, owner/name:<64-character version id>, or a 64-character version id'],
    [`${LORA}:abc`, 'must be owner/name, owner/name:<64-character version id>, or a 64-character version id'],
    ['a/b/c', 'must be owner/name, owner/name:<64-character version id>, or a 64-character version id'],
  ])('model %s is invalid input, no request', async (model, reason) => {
    expect(errorOf(await run(model, {}))).toBe(`Invalid input: model: ${reason}`);
    expect(local.emulator.requests).toHaveLength(0);
  });

  test('input must be a JSON object', async () => {
    expect(
      errorOf(await collect(block, { credentials: CREDENTIALS, model: LORA, input: [1] }, contextFor(local.emulator))),
    ).toBe('Invalid input: input: must be an object, got array');
  });

  test.each([LORA, `${LORA}:${LORA_VERSION}`])(
    'an input over 1 MiB of JSON (%s) is invalid input naming the field and the limit, no request',
    async (model) => {
      const input = { prompt: 'x'.repeat(10 * 1024 * 1024) };
      expect(errorOf(await run(model, input))).toBe(
        `Invalid input: input: ${10 * 1024 * 1024 + 13} bytes of JSON, over the 1048576-byte (1 MiB) limit of a prediction's input; pass long text or files as URLs (data: URIs do not count: they are uploaded)`,
      );
      expect(local.emulator.requests).toHaveLength(0);
    },
  );
});

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ValidateFunction } from 'ajv';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../emulator/index.js';
import { EXAMPLE_IMAGE } from '../../sdk.js';
import { fixture, newAjv, TOKEN, until } from '../helpers.js';

// The emulator answers as Replicate does: each answer of these routes is checked against the
// matching schema of Replicate's OpenAPI spec.
let emulator: Emulator;
let fileSchema: ValidateFunction;
let predictionSchema: ValidateFunction;
const started: Emulator[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ startingMs: 20, processingMs: 150 });
  const ajv = newAjv({ strict: false });
  ajv.addSchema(fixture<object>('openapi.json'), 'openapi.json');
  fileSchema = ajv.getSchema('openapi.json#/components/schemas/schemas_file_response')!;
  predictionSchema = ajv.getSchema('openapi.json#/components/schemas/schemas_prediction_response')!;
});
afterAll(async () => {
  await Promise.all([emulator, ...started].map((e) => e.close()));
});

async function another(options: EmulatorOptions): Promise<Emulator> {
  const one = await startEmulator({ startingMs: 20, processingMs: 150, ...options });
  started.push(one);
  return one;
}

function expectValid(validate: ValidateFunction, value: unknown): void {
  validate(value);
  expect(validate.errors ?? []).toEqual([]);
}

const auth = { Authorization: `Bearer ${TOKEN}` };
const post = (on: Emulator, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(on.url + path, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
const create = (
  on: Emulator,
  input: Record<string, unknown>,
  headers: Record<string, string> = {},
  model = 'black-forest-labs/flux-schnell',
) => post(on, `/models/${model}/predictions`, { input }, headers);

describe('Files API', () => {
  const upload = (content: Blob, filename: string) => {
    const form = new FormData();
    form.set('content', content, filename);
    form.set('metadata', JSON.stringify({ customer_reference_id: 123 }));
    return fetch(`${emulator.url}/files`, { method: 'POST', headers: auth, body: form });
  };
  const png = () => new Blob([Buffer.from(EXAMPLE_IMAGE.split(',')[1]!, 'base64')], { type: 'image/png' });

  test('POST /v1/files answers 201 with a file object; GET answers it again; download gives the bytes; DELETE removes it', async () => {
    const response = await upload(png(), 'blue.png');
    expect(response.status).toBe(201);
    const file = (await response.json()) as {
      id: string;
      size: number;
      urls: { get: string };
      metadata: unknown;
      content_type: string;
      name: string;
    };
    expectValid(fileSchema, file);
    expect(file).toMatchObject({
      name: 'blue.png',
      content_type: 'image/png',
      metadata: { customer_reference_id: 123 },
    });
    expect(file.urls.get).toBe(`${emulator.url}/files/${file.id}`);
    const again = await fetch(file.urls.get, { headers: auth });
    expectValid(fileSchema, await again.json());
    const bytes = Buffer.from(await (await fetch(`${file.urls.get}/download`, { headers: auth })).arrayBuffer());
    expect(bytes.length).toBe(file.size);
    expect((await fetch(file.urls.get, { method: 'DELETE', headers: auth })).status).toBe(204);
    expect((await fetch(file.urls.get, { headers: auth })).status).toBe(404);
  });

  test("a file URL is accepted as an image input, and the output follows the file's size", async () => {
    const file = (await (await upload(png(), 'blue.png')).json()) as { urls: { get: string } };
    const response = await create(
      emulator,
      { prompt: 'x', input_image: file.urls.get },
      { Prefer: 'wait' },
      'black-forest-labs/flux-kontext-pro',
    );
    const prediction = (await response.json()) as { status: string; output: string };
    expect(prediction.status).toBe('succeeded');
    expect(prediction.output).toMatch(/\.png$/);
  });

  test('a body that is not a form is a 400, a form without content a 422', async () => {
    expect((await post(emulator, '/files', { content: 'x' })).status).toBe(400);
    const form = new FormData();
    form.set('filename', 'x.png');
    const response = await fetch(`${emulator.url}/files`, { method: 'POST', headers: auth, body: form });
    expect(response.status).toBe(422);
  });
});

describe('answers as Replicate gives them', () => {
  test('429 bodies carry retry_after; the Retry-After header is a separate switch', async () => {
    for (const [retryAfterHeader, header] of [
      [true, '6'],
      [false, null],
    ] as const) {
      const limited = await another({ rateLimits: { createsPerMinute: 10, createBurst: 1, retryAfterHeader } });
      expect((await create(limited, { prompt: 'x' })).status).toBe(202);
      const throttled = await create(limited, { prompt: 'x' });
      expect(throttled.status).toBe(429);
      expect(throttled.headers.get('retry-after')).toBe(header);
      expect(await throttled.json()).toMatchObject({ status: 429, retry_after: 6, title: 'Request was throttled' });
    }
  });

  test('the low-credit profile allows one create, then about one each 10 s', async () => {
    const low = await another({ rateLimits: 'low-credit' });
    expect((await create(low, { prompt: 'x' })).status).toBe(202);
    const second = await create(low, { prompt: 'x' });
    expect(second.status).toBe(429);
    expect(((await second.json()) as { retry_after: number }).retry_after).toBe(10);
    // Other requests are not held to the create limit.
    expect((await fetch(`${low.url}/predictions`, { headers: auth })).status).toBe(200);
  });

  test("402 insufficient credit, in Replicate's words", async () => {
    const broke = await another({ insufficientCredit: true });
    const response = await create(broke, { prompt: 'x' });
    expect(response.status).toBe(402);
    expect(await response.json()).toMatchObject({
      status: 402,
      detail: expect.stringMatching(/^You have insufficient credit to run this model\./),
    });
  });

  test('413 for a body over maxBodyBytes', async () => {
    const small = await another({ maxBodyBytes: 1_000 });
    const response = await create(small, { prompt: 'x'.repeat(2_000) });
    expect(response.status).toBe(413);
    expect(small.requests.filter((r) => r.handledAs === 201 || r.handledAs === 202)).toHaveLength(0);
  });

  test('a sync wait that ends first answers the prediction as it is, with a Location header; urls.stream is given and urls.web served', async () => {
    const slow = await another({ processingMs: 3_000 });
    const response = await create(slow, { prompt: 'x' }, { Prefer: 'wait=1' });
    const prediction = (await response.json()) as {
      status: string;
      urls: { get: string; web: string; stream: string };
    };
    expect(['starting', 'processing']).toContain(prediction.status);
    expectValid(predictionSchema, prediction);
    expect(response.headers.get('location')).toBe(prediction.urls.get);
    expect(prediction.urls.stream).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/stream\/[a-z2-7]+$/);
    const page = await fetch(prediction.urls.web);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain(prediction.urls.get.split('/').pop()!);
  });

  test('processing with every output already present, before succeeded', async () => {
    const early = await another({ processingMs: 2_000, plan: () => ({ partialOutput: 'all' }) });
    const response = await create(early, { prompt: 'x', num_outputs: 3 }, { Prefer: 'wait=1' });
    const prediction = (await response.json()) as { status: string; output: string[] };
    expect(prediction.status).toBe('processing');
    expect(prediction.output).toHaveLength(3);
  });

  test('after retentionMs, data removal clears output, input and logs', async () => {
    const forgetful = await another({ retentionMs: 50 });
    const created = (await (await create(forgetful, { prompt: 'a secret plan' }, { Prefer: 'wait' })).json()) as {
      urls: { get: string };
    };
    const prediction = await until(async () => {
      const read = (await (await fetch(created.urls.get, { headers: auth })).json()) as Record<string, unknown>;
      return read.data_removed === true && read;
    });
    expect(prediction).toMatchObject({ status: 'succeeded', data_removed: true, output: null, input: {}, logs: '' });
    expectValid(predictionSchema, prediction);
  });

  test('an unknown version is 422 Invalid version or not permitted', async () => {
    const response = await post(emulator, '/predictions', { version: 'f'.repeat(64), input: { prompt: 'x' } });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ title: 'Invalid version or not permitted', status: 422 });
  });
});

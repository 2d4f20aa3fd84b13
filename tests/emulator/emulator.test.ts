import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { ValidateFunction } from 'ajv';
import sharp from 'sharp';
import { startEmulator, type Emulator, type PredictionPlan } from '../../emulator/index.js';
import { newAjv, fixture, TOKEN, until } from '../helpers.js';

let emulator: Emulator;
let plan: PredictionPlan = {};
let predictionSchema: ValidateFunction;
let listSchema: ValidateFunction;
let modelSchema: ValidateFunction;

beforeAll(async () => {
  emulator = await startEmulator({ startingMs: 30, processingMs: 150, plan: () => plan });
  // Replicate's published OpenAPI spec; its `nullable` and `example` keywords are OpenAPI's, not JSON Schema's.
  const ajv = newAjv({ strict: false });
  ajv.addSchema(fixture<object>('openapi.json'), 'openapi.json');
  predictionSchema = ajv.getSchema('openapi.json#/components/schemas/schemas_prediction_response')!;
  listSchema = ajv.getSchema('openapi.json#/paths/~1predictions/get/responses/200/content/application~1json/schema')!;
  modelSchema = ajv.getSchema('openapi.json#/components/schemas/schemas_model_response')!;
});
afterAll(() => emulator.close());

type Json = Record<string, unknown> & { id: string; status: string; output: unknown; logs: string };

async function api(method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) {
  const response = await fetch(emulator.url + path, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', ...options.headers },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  return { status: response.status, type: response.headers.get('content-type'), json: (await response.json()) as Json };
}

/** Asserts `prediction` validates against Replicate's `schemas_prediction_response`. */
function expectPrediction(prediction: unknown): void {
  const valid = predictionSchema(prediction);
  expect(predictionSchema.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
}

const create = (
  input: Record<string, unknown>,
  headers: Record<string, string> = {},
  model = 'black-forest-labs/flux-schnell',
) => api('POST', `/models/${model}/predictions`, { body: { input }, headers });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('every prediction it returns validates against the OpenAPI schema', () => {
  test('the schema check refuses a malformed prediction (control)', async () => {
    const { json } = await create({ prompt: 'a kite' });
    expect(predictionSchema({ ...json, status: 'done' })).toBe(false);
    expect(predictionSchema({ ...json, urls: { ...(json.urls as object), get: 'not a uri' } })).toBe(false);
    expect(predictionSchema({ ...json, created_at: 'yesterday' })).toBe(false);
  });

  test('create, get through starting, processing and succeeded, and list', async () => {
    plan = {};
    const created = await create({ prompt: 'a kite', seed: 5 });
    expect(created.status).toBe(202);
    expect(created.json.status).toBe('starting');
    expectPrediction(created.json);
    const seen = new Set<string>([created.json.status]);
    let current = created.json;
    while (current.status !== 'succeeded') {
      await sleep(20);
      current = (await api('GET', `/predictions/${created.json.id}`)).json;
      expectPrediction(current);
      seen.add(current.status);
      if (current.status === 'processing') expect(current.logs).toMatch(/^Using seed: 5\n/);
    }
    expect(seen).toEqual(new Set(['starting', 'processing', 'succeeded']));
    expect(current).toMatchObject({
      model: 'black-forest-labs/flux-schnell',
      input: { prompt: 'a kite', seed: 5 },
      error: null,
    });
    expect(current.output).toEqual([expect.stringMatching(/\/files\/[a-z2-7]{26}\/out-0\.webp$/)]);
    expect(current.logs).toMatch(/100%\|██████████\| 4\/4\nGenerated 1 image\(s\)\n$/);
    expect(current.metrics).toEqual({ predict_time: expect.any(Number), total_time: expect.any(Number) });
    expect(current.urls).toEqual({
      web: expect.any(String),
      get: `${emulator.url}/predictions/${current.id}`,
      cancel: `${emulator.url}/predictions/${current.id}/cancel`,
      stream: expect.any(String),
    });

    const list = await api('GET', '/predictions');
    expect(listSchema(list.json)).toBe(true);
    expect((list.json.results as Json[]).map((p) => p.id)).toContain(current.id);
  });

  test.each([
    ['failed', { outcome: 'failed', error: 'boom' }],
    ['canceled', { outcome: 'canceled' }],
    ['aborted', { outcome: 'aborted' }],
  ] as const)('%s', async (status, scripted) => {
    plan = scripted;
    const { status: code, json } = await create({ prompt: 'x' }, { Prefer: 'wait=5' });
    expect(code).toBe(201);
    expect(json.status).toBe(status);
    expect(json.error).toBe(status === 'failed' ? 'boom' : null);
    expect(json.output).toBeNull();
    expectPrediction(json);
  });

  test('cancel answers the canceled prediction', async () => {
    plan = { processingMs: 5000 };
    const { json } = await create({ prompt: 'x' });
    const canceled = await api('POST', `/predictions/${json.id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.json.status).toBe('canceled');
    expectPrediction(canceled.json);
  });

  test('a single-URI model returns a string output; a version run names its version', async () => {
    plan = {};
    const pro = await create({ prompt: 'x', output_format: 'jpg' }, { Prefer: 'wait' }, 'black-forest-labs/flux-pro');
    expect(pro.json.output).toEqual(expect.stringMatching(/\/out-0\.jpg$/));
    expectPrediction(pro.json);
    const version = '2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574';
    const lora = await api('POST', '/predictions', {
      body: { version, input: { prompt: 'x', num_outputs: 3 } },
      headers: { Prefer: 'wait=5' },
    });
    expect(lora.json).toMatchObject({ model: 'lucataco/flux-schnell-lora', version, status: 'succeeded' });
    expect(lora.json.output).toHaveLength(3);
    expectPrediction(lora.json);
  });
});

describe('GET /models/{owner}/{name}', () => {
  test('an official model: is_official, its latest version with a Cog input schema', async () => {
    const { status, json } = await api('GET', '/models/black-forest-labs/flux-kontext-dev');
    expect(status).toBe(200);
    expect(modelSchema({ ...json, is_official: 'yes' })).toBe(false); // the check can fail
    expect(modelSchema(json)).toBe(true);
    const version = json.latest_version as {
      id: string;
      openapi_schema: {
        components: {
          schemas: Record<string, { required?: string[]; properties?: Record<string, unknown>; enum?: string[] }>;
        };
      };
    };
    expect(json).toMatchObject({ owner: 'black-forest-labs', name: 'flux-kontext-dev', is_official: true });
    expect(version.id).toMatch(/^[0-9a-f]{64}$/);
    const { Input, aspect_ratio } = version.openapi_schema.components.schemas;
    expect(Input!.required).toEqual(['prompt', 'input_image']);
    expect(Input!.properties!.aspect_ratio).toMatchObject({
      allOf: [{ $ref: '#/components/schemas/aspect_ratio' }],
      default: 'match_input_image',
    });
    expect(aspect_ratio!.enum).toContain('match_input_image');
  });

  test('a community model: not official, its version id', async () => {
    const { json } = await api('GET', '/models/lucataco/flux-schnell-lora');
    expect(modelSchema(json)).toBe(true);
    expect(json).toMatchObject({
      is_official: false,
      latest_version: { id: '2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574' },
    });
  });

  test('an unknown model is 404', async () => {
    expect((await api('GET', '/models/nobody/nothing')).status).toBe(404);
  });
});

describe('sync mode and deadlines', () => {
  test('Prefer: wait holds the answer until the prediction ends', async () => {
    plan = {};
    const started = Date.now();
    const { status, json } = await create({ prompt: 'x' }, { Prefer: 'wait=10' });
    expect([status, json.status]).toEqual([201, 'succeeded']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
  });

  test('Prefer: wait=n answers after n seconds when the prediction is still running', async () => {
    plan = { processingMs: 5000 };
    const started = Date.now();
    const { status, json } = await create({ prompt: 'x' }, { Prefer: 'wait=1' });
    expect([status, json.status]).toEqual([202, 'processing']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  test('partial output is visible while processing', async () => {
    plan = { processingMs: 5000, partialOutput: true };
    const { json } = await create({ prompt: 'x' }, { Prefer: 'wait=1' });
    expect(json.status).toBe('processing');
    expect(json.output).toHaveLength(1);
    expectPrediction(json);
  });

  test('Cancel-After aborts a prediction still queued at its deadline', async () => {
    plan = { startingMs: 60_000 };
    const { json } = await create({ prompt: 'x' }, { 'Cancel-After': '5s' });
    expect(json.deadline).toEqual(expect.any(String));
    const after = await until(async () => {
      const read = (await api('GET', `/predictions/${json.id}`)).json;
      return read.status !== 'starting' && read;
    }, 100);
    expect(after.status).toBe('aborted');
    expectPrediction(after);
  });
});

describe('problems, as Replicate answers them', () => {
  test('no token is 401 problem JSON', async () => {
    const response = await fetch(`${emulator.url}/predictions`);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toEqual({
      title: 'Unauthenticated',
      detail: 'You did not pass an authentication token',
      status: 401,
    });
  });

  test('invalid input is 422 Input validation failed with invalid_fields', async () => {
    const { status, type, json } = await create({ guidance: 3, num_outputs: 9, aspect_ratio: '7:1' });
    expect(status).toBe(422);
    expect(type).toBe('application/problem+json');
    expect(json).toMatchObject({ title: 'Input validation failed', status: 422 });
    expect(json.invalid_fields).toEqual([
      { field: 'input.prompt', type: 'required', description: 'prompt is required' },
      {
        field: 'input.guidance',
        type: 'additional_property_not_allowed',
        description: 'Additional property guidance is not allowed',
      },
      { field: 'input.num_outputs', type: 'number_lte', description: 'Must be less than or equal to 4' },
      {
        field: 'input.aspect_ratio',
        type: 'enum',
        description: expect.stringContaining('aspect_ratio must be one of the following: "1:1", "16:9"'),
      },
    ]);
    // Replicate's detail: one line per field, `- input.<field>: <description>`.
    expect((json.detail as string).split('\n')).toEqual([
      '- input.prompt: prompt is required',
      '- input.guidance: Additional property guidance is not allowed',
      '- input.num_outputs: Must be less than or equal to 4',
      expect.stringMatching(/^- input\.aspect_ratio: aspect_ratio must be one of the following: /),
    ]);
  });

  test.each([
    ['an unknown model', () => create({ prompt: 'x' }, {}, 'someone/else'), 404],
    ['an unknown prediction', () => api('GET', '/predictions/nope'), 404],
    [
      "an unknown version (Replicate's 422 Invalid version or not permitted)",
      () => api('POST', '/predictions', { body: { version: 'f'.repeat(64), input: {} } }),
      422,
    ],
    ['Prefer: wait=0', () => create({ prompt: 'x' }, { Prefer: 'wait=0' }), 400],
    ['Cancel-After under 5 s', () => create({ prompt: 'x' }, { 'Cancel-After': '2s' }), 400],
  ])('%s is a problem answer', async (_, call, code) => {
    const { status, type, json } = await call();
    expect(status).toBe(code);
    expect(type).toBe('application/problem+json');
    expect(json.status).toBe(code);
  });

  test('a body that is not JSON is 400', async () => {
    const response = await fetch(`${emulator.url}/models/black-forest-labs/flux-schnell/predictions`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
      body: '{nope',
    });
    expect(response.status).toBe(400);
  });
});

describe('output files are real images', () => {
  test.each([
    ['1:1', 'webp', 1024, 1024],
    ['16:9', 'png', 1360, 768],
    ['9:16', 'jpg', 768, 1360],
    ['21:9', 'webp', 1568, 672],
  ] as const)('%s %s', async (aspect_ratio, output_format, width, height) => {
    plan = {};
    const { json } = await create({ prompt: 'x', aspect_ratio, output_format }, { Prefer: 'wait' });
    const response = await fetch((json.output as string[])[0]!);
    expect(response.headers.get('content-type')).toBe(
      output_format === 'jpg' ? 'image/jpeg' : `image/${output_format}`,
    );
    const metadata = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([metadata.format, metadata.width, metadata.height]).toEqual([
      output_format === 'jpg' ? 'jpeg' : output_format,
      width,
      height,
    ]);
    expect(width * height).toBeGreaterThan(0.95 * 2 ** 20);
    expect(width * height).toBeLessThan(1.05 * 2 ** 20);
  });

  test("plan.outputBytes: each output file serves the given bytes (a truncated png) with the format's type", async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    const truncated = png.subarray(0, 60);
    plan = { outputBytes: truncated };
    const { json } = await create({ prompt: 'x', output_format: 'png', num_outputs: 2 }, { Prefer: 'wait' });
    expect(json.output).toHaveLength(2);
    for (const url of json.output as string[]) {
      const response = await fetch(url);
      expect([response.status, response.headers.get('content-type')]).toEqual([200, 'image/png']);
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(bytes.equals(truncated)).toBe(true);
      await expect(sharp(bytes).toBuffer()).rejects.toThrow();
    }
  });

  test('megapixels 0.25 makes a quarter-size image; an output not yet made is 404', async () => {
    plan = {};
    const { json } = await create({ prompt: 'x', megapixels: '0.25', output_format: 'png' }, { Prefer: 'wait' });
    const url = (json.output as string[])[0]!;
    const metadata = await sharp(Buffer.from(await (await fetch(url)).arrayBuffer())).metadata();
    expect([metadata.width, metadata.height]).toEqual([512, 512]);
    expect((await fetch(url.replace('out-0', 'out-1'))).status).toBe(404);
  });
});

test('list pages hold 100 predictions, newest first, with a next link', async () => {
  plan = {};
  const fresh = await startEmulator({ startingMs: 10, processingMs: 10 });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 101; i++) {
      const response = await fetch(`${fresh.url}/models/black-forest-labs/flux-schnell/predictions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ input: { prompt: `p${i}` } }),
      });
      ids.push(((await response.json()) as Json).id);
    }
    const get = async (url: string) =>
      (await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } })).json() as Promise<{
        results: Json[];
        next: string | null;
      }>;
    const first = await get(`${fresh.url}/predictions`);
    expect(listSchema(first)).toBe(true);
    expect(first.results.map((p) => p.id)).toEqual(ids.slice(1).reverse());
    const second = await get(first.next!);
    expect(second.results.map((p) => p.id)).toEqual([ids[0]]);
    expect(second.next).toBeNull();
  } finally {
    await fresh.close();
  }
});

test('an edit whose form has fields named __proto__ and constructor is answered and recorded as any other', async () => {
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
  const form = new FormData();
  form.append('model', 'flux-kontext-pro');
  form.append('prompt', 'a kite');
  form.append('__proto__', 'x');
  form.append('constructor', 'y');
  form.append('image', new Blob([png], { type: 'image/png' }), 'in.png');
  emulator.requests.splice(0);
  const response = await fetch(`${emulator.url}/images/edits`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}` },
    body: form,
  });
  expect(response.status).toBe(200);
  const body = emulator.requests.at(-1)!.body as Record<string, unknown>;
  expect(Object.getOwnPropertyNames(body)).toEqual(['model', 'prompt', '__proto__', 'constructor', 'image']);
  expect([body['__proto__'], body.constructor]).toEqual(['x', 'y']);
  expect('x' in {}).toBe(false);
});

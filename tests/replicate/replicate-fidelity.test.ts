import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { ReplicateFluxKontextBlock } from '../../blocks/index.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../emulator/index.js';
import { BlockError, ERROR_KINDS, type ErrorKind } from '../../index.js';
import { MAX_DATA_URI_BYTES, uploadLargeDataUris } from '../../shared/replicate/files.js';
import { MAX_INPUT_JSON_BYTES } from '../../shared/replicate/input-size.js';
import {
  clientFor,
  collect,
  contextFor,
  creates,
  CREDENTIALS,
  errorOf,
  FAST,
  freshToken,
  names,
  requestsTo,
  useEmulator,
} from '../helpers.js';

// What real Replicate answers, and how the client handles it: the cases of the fidelity issue.
const local = useEmulator();
const LORA_VERSION = 'lucataco/flux-schnell-lora:2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574';

/** A test's own emulator with `options`, closed after `use`. */
async function withEmulator<T>(options: EmulatorOptions, use: (emulator: Emulator) => Promise<T>): Promise<T> {
  const emulator = await startEmulator({ ...FAST, ...options });
  try {
    return await use(emulator);
  } finally {
    await emulator.close();
  }
}

/** The error a client run rejects with. */
async function failure(run: Promise<unknown>): Promise<BlockError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BlockError);
  return error as BlockError;
}

const endsWithAdvice = (error: BlockError, kind: ErrorKind) =>
  expect(error.message.endsWith(ERROR_KINDS[kind].advice)).toBe(true);

describe('422 messages name each field', () => {
  test('from invalid_fields: the field without its input. prefix, and the reason', async () => {
    const error = await failure(
      clientFor(local.emulator).run({
        model: 'black-forest-labs/flux-schnell',
        input: { prompt: 'x', num_inference_steps: 9, output_format: 'gif' },
      }),
    );
    expect(error.kind).toBe('rejected_input');
    expect(error.detail).toBe(
      'Replicate API error 422 Input validation failed: num_inference_steps: Must be less than or equal to 4; output_format must be one of the following: "webp", "jpg", "png"',
    );
    expect(creates(local.emulator)).toEqual({ sent: 1, created: 0 });
  });

  test('from detail alone, when there are no invalid_fields', async () => {
    local.emulator.inject({
      route: 'create',
      answer: {
        status: 422,
        body: {
          title: 'Input validation failed',
          status: 422,
          detail:
            '- input.num_inference_steps: Must be less than or equal to 4\n- input.seed: Invalid type. Expected: integer',
        },
      },
    });
    const error = await failure(
      clientFor(local.emulator).run({ model: 'black-forest-labs/flux-schnell', input: { prompt: 'x' } }),
    );
    expect(error.detail).toBe(
      'Replicate API error 422 Input validation failed: num_inference_steps: Must be less than or equal to 4; seed: Invalid type. Expected: integer',
    );
  });
});

test('an unknown or forbidden version is invalid_version, whose advice is about the version and the account', async () => {
  const error = await failure(clientFor(local.emulator).run({ model: 'f'.repeat(64), input: { prompt: 'x' } }));
  expect(error.kind).toBe('invalid_version');
  expect(error.detail).toMatch(
    /^Replicate API error 422 Invalid version or not permitted: The specified version does not exist/,
  );
  endsWithAdvice(error, 'invalid_version');
  expect(error.message).not.toContain('Fix the listed fields');
  expect(creates(local.emulator)).toEqual({ sent: 1, created: 0 });
});

test('402 insufficient credit is its own kind, names the billing page, and is never retried', async () => {
  await withEmulator({ insufficientCredit: true }, async (emulator) => {
    const outputs = await collect(
      ReplicateFluxKontextBlock,
      { credentials: CREDENTIALS, prompt: 'a fox' },
      contextFor(emulator),
    );
    const message = errorOf(outputs);
    expect(message).toMatch(
      /^Replicate API error 402 Insufficient credit: You have insufficient credit to run this model/,
    );
    expect(message).toContain('https://replicate.com/account/billing');
    expect(message.endsWith(ERROR_KINDS.insufficient_credit.advice)).toBe(true);
    expect(creates(emulator)).toEqual({ sent: 1, created: 0 });
  });
});

test('a low-credit account (6 creates a minute, burst 1) is paced: every run with time left succeeds, one prediction each', async () => {
  await withEmulator({ rateLimits: 'low-credit' }, async (emulator) => {
    const context = contextFor(emulator, { timeoutMs: 60_000 }, undefined, freshToken());
    const client = clientFor(emulator, { token: context.credentials!.apiKey, timeoutMs: 60_000 });
    const runs = await Promise.all(
      [1, 2, 3].map((seed) => client.run({ model: 'black-forest-labs/flux-schnell', input: { prompt: 'x', seed } })),
    );
    expect(runs.map((p) => p.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(creates(emulator).created).toBe(3);
    expect(emulator.throttled).toBeGreaterThan(0);
  });
}, 60_000);

test('429s that carry retry_after in the body and no Retry-After header are waited out', async () => {
  await withEmulator(
    { rateLimits: { createsPerMinute: 120, createBurst: 1, retryAfterHeader: false } },
    async (emulator) => {
      const client = clientFor(emulator, { token: freshToken() });
      const runs = await Promise.all(
        [1, 2, 3].map((seed) => client.run({ model: 'black-forest-labs/flux-schnell', input: { prompt: 'x', seed } })),
      );
      expect(runs.every((p) => p.status === 'succeeded')).toBe(true);
      const throttled = emulator.requests.filter((r) => r.outcome === 429);
      expect(throttled.length).toBeGreaterThan(0);
      expect(creates(emulator).created).toBe(3);
    },
  );
});

test('413 on create is request_rejected naming the largest input, with no advice to run it again', async () => {
  await withEmulator({ maxBodyBytes: 4_000 }, async (emulator) => {
    const input = { prompt: 'a cake', hf_lora: 'x'.repeat(6_000) };
    const error = await failure(clientFor(emulator).run({ model: LORA_VERSION, input }));
    expect(error.kind).toBe('request_rejected');
    expect(error.detail).toMatch(
      /^Replicate API error 413 Content Too Large: .*; the largest input is hf_lora \(6002 bytes\)$/,
    );
    expect(error.message).not.toMatch(/run it again later/i);
    expect(creates(emulator).created).toBe(0);
  });
});

describe('data: URIs over 256 KB go through the Files API', () => {
  let large: string;
  beforeAll(async () => {
    // Noise does not compress: a 480x320 png of it is well over 256 KB.
    const noise = randomBytes(480 * 320 * 3);
    large = `data:image/png;base64,${(
      await sharp(noise, { raw: { width: 480, height: 320, channels: 3 } })
        .png()
        .toBuffer()
    ).toString('base64')}`;
  });

  test('the image is uploaded, its file URL sent, and the create body stays small', async () => {
    expect(large.length).toBeGreaterThan(MAX_DATA_URI_BYTES * 1.34);
    const outputs = await collect(
      ReplicateFluxKontextBlock,
      { credentials: CREDENTIALS, prompt: 'make it night', input_image: large, seed: 1 },
      contextFor(local.emulator),
    );
    expect(names(outputs)).toEqual(['result', 'seed']);
    const [upload] = requestsTo(local.emulator, 'POST', /^\/v1\/files$/);
    expect(upload?.outcome).toBe(201);
    const [create] = requestsTo(local.emulator, 'POST', /\/predictions$/);
    expect(Buffer.byteLength(JSON.stringify(create!.body))).toBeLessThan(MAX_DATA_URI_BYTES);
    expect((create!.body as { input: { input_image: string } }).input.input_image).toMatch(
      new RegExp(`^${local.emulator.url}/files/[a-z2-7]+$`),
    );
    // The model read the uploaded image: match_input_image keeps its 3:2 proportions.
    const image = await sharp(Buffer.from(await (await fetch(outputs[0]![1] as string)).arrayBuffer())).metadata();
    expect(image.width! / image.height!).toBeCloseTo(1.5, 1);
  });

  test('a small data: URI is sent inline, with no upload', async () => {
    const small = large.slice(0, 100);
    const sent = await uploadLargeDataUris({ input_image: small, input_images: [small] }, () =>
      Promise.reject(new Error('no upload expected')),
    );
    expect(sent).toEqual({ input_image: small, input_images: [small] });
  });

  test('100 MB or more is an input error naming the field, before any upload', async () => {
    // Exactly 100,000,000 bytes: Replicate's Files API takes files "less than 100MB".
    const huge = `data:image/png;base64,${'A'.repeat(133_333_334)}==`;
    let uploads = 0;
    const run = uploadLargeDataUris({ prompt: 'x', input_images: ['https://a.test/1.png', huge] }, async () => {
      uploads += 1;
      throw new Error('unexpected');
    });
    await expect(run).rejects.toMatchObject({
      kind: 'invalid_input',
      message: expect.stringMatching(
        /^input_images\.1: the data: URI holds 100000000 bytes; Replicate's Files API takes files under 100000000 bytes \(100 MB\)/,
      ),
    });
    expect(uploads).toBe(0);
  });

  test('small data: URIs that together take the input over 1 MiB are uploaded, largest first, until it fits', async () => {
    // Six inline-sized images (each under 256 KB) are about 1.7 MB of JSON together.
    const images = [0, 1, 2, 3, 4, 5].map(
      (i) => `data:image/png;base64,${randomBytes(200_000 - i * 1000).toString('base64')}`,
    );
    const uploaded: string[] = [];
    const sent = await uploadLargeDataUris({ prompt: 'x', input_images: images }, async (content, filename) => {
      uploaded.push(filename);
      return {
        id: filename,
        content_type: content.type,
        size: content.size,
        urls: { get: `https://f.test/${filename}` },
      };
    });
    // The largest two go up; the rest stay inline.
    expect(uploaded).toEqual(['input_images-0.png', 'input_images-1.png']);
    expect((sent.input_images as string[]).slice(2)).toEqual(images.slice(2));
    expect(Buffer.byteLength(JSON.stringify(sent))).toBeLessThanOrEqual(MAX_INPUT_JSON_BYTES);
  });

  test('an input over 1 MiB of JSON besides data: URIs is refused naming the field and the limit, before any request', async () => {
    const error = await failure(
      clientFor(local.emulator).run({
        model: 'black-forest-labs/flux-schnell',
        input: { prompt: 'x'.repeat(2 * 1024 * 1024), image: `data:image/png;base64,${'A'.repeat(400_000)}` },
      }),
    );
    expect(error.kind).toBe('invalid_input');
    expect(error.message).toMatch(
      /^input: \d+ bytes of JSON, over the 1048576-byte \(1 MiB\) limit of a prediction's input;/,
    );
    expect(local.emulator.requests).toHaveLength(0);
  });

  test("uploadFile returns Replicate's file object", async () => {
    const file = await clientFor(local.emulator).uploadFile(
      new Blob([Buffer.from('hello')], { type: 'text/plain' }),
      'hello.txt',
    );
    expect(file).toMatchObject({
      name: 'hello.txt',
      content_type: 'text/plain',
      size: 5,
      urls: { get: expect.stringMatching(/\/v1\/files\/[a-z2-7]+$/) },
    });
  });
});

test("a timeout over 24 h (Replicate's longest Cancel-After) is an invalid runner option, before any request", async () => {
  const outputs = await collect(
    ReplicateFluxKontextBlock,
    { credentials: CREDENTIALS, prompt: 'x' },
    contextFor(local.emulator, { timeoutMs: 86_400_001 }),
  );
  expect(errorOf(outputs)).toBe('Invalid runner options: timeoutMs: must be <= 86400000');
  expect(local.emulator.requests).toHaveLength(0);
});

test('an answer of processing with every output present is not the end: a later failure is what counts', async () => {
  local.plan = { processingMs: 1_500, partialOutput: 'all', outcome: 'failed', error: 'CUDA out of memory' };
  const error = await failure(
    clientFor(local.emulator, { waitSeconds: 1 }).run({
      model: 'black-forest-labs/flux-schnell',
      input: { prompt: 'x', num_outputs: 2 },
    }),
  );
  expect(error.kind).toBe('model_failed');
  expect(error.detail).toMatch(/failed: CUDA out of memory$/);
});

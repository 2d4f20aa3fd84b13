import { describe, expect, test } from '@jest/globals';
import { ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import type { ProgressEvent } from '../../index.js';
import {
  clientFor,
  collect,
  contextFor,
  CREDENTIALS,
  errorOf,
  names,
  requestsTo,
  startProxy,
  useEmulator,
} from '../helpers.js';

const local = useEmulator();

const input = { credentials: CREDENTIALS, prompt: 'a paper boat on a pond', seed: 7 };

describe('waiting', () => {
  test('a prediction that ends within the sync wait needs one request', async () => {
    const outputs = await collect(block, input, contextFor(local.emulator));
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(local.emulator.requests).toHaveLength(1);
    const [create] = local.emulator.requests;
    // The local.emulator records the header redacted; the token it accepted was TOKEN.
    expect(create!.headers.authorization).toBe('Bearer [REDACTED]');
    expect(create!.headers.prefer).toBe('wait=60');
    expect(create!.headers['cancel-after']).toBe('600s');
  });

  test('a prediction that outlasts the sync wait is polled until it ends', async () => {
    local.plan = { processingMs: 1800 };
    const events: ProgressEvent[] = [];
    const outputs = await collect(
      block,
      input,
      contextFor(local.emulator, { waitSeconds: 1, onProgress: (e) => events.push(e) }),
    );
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(local.emulator.requests[0]!.headers.prefer).toBe('wait=1');
    const polls = requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/);
    expect(polls.length).toBeGreaterThan(1);
    expect(events[0]).toMatchObject({ status: 'processing' });
    expect(events.at(-1)).toEqual({ predictionId: events[0]!.predictionId, status: 'succeeded', percent: 100 });
    const percents = events.map((e) => e.percent ?? 0);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
  });

  test('processing with partial output is not done: a later failure yields only the error', async () => {
    local.plan = { processingMs: 1500, partialOutput: true, outcome: 'failed', error: 'NSFW content detected' };
    const outputs = await collect(block, input, contextFor(local.emulator, { waitSeconds: 1 }));
    expect(errorOf(outputs)).toMatch(
      /^Prediction [a-z2-7]+ was blocked by the model's safety filter: NSFW content detected\. Change the prompt/,
    );
    expect(requestsTo(local.emulator, 'GET', /^\/v1\/predictions\//).length).toBeGreaterThan(0);
  });

  test('processing with partial output is polled to success before yielding', async () => {
    local.plan = { processingMs: 1300, partialOutput: true };
    const events: ProgressEvent[] = [];
    const outputs = await collect(
      block,
      input,
      contextFor(local.emulator, { waitSeconds: 1, onProgress: (e) => events.push(e) }),
    );
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(events.map((e) => e.status)).toContain('processing');
    expect(events.at(-1)!.status).toBe('succeeded');
  });

  test('a timeout under one second sends no Prefer header and still polls to the end', async () => {
    local.plan = { processingMs: 100 };
    const outputs = await collect(block, input, contextFor(local.emulator, { timeoutMs: 900 }));
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(local.emulator.requests[0]!.headers.prefer).toBeUndefined();
    expect(local.emulator.requests[0]!.headers['cancel-after']).toBe('5s');
  });
});

describe('outputs', () => {
  test('a list output yields one result per image, in order, then the seed', async () => {
    const urls = ['https://img.test/a.webp', 'https://img.test/b.webp', 'https://img.test/c.webp'];
    local.plan = { output: urls };
    const outputs = await collect(block, input, contextFor(local.emulator));
    expect(outputs).toEqual([...urls.map((url) => ['result', url]), ['seed', 7]]);
  });

  test.each([[null], [[]], ['']])('success with output %j is an error, not a placeholder result', async (output) => {
    local.plan = { output };
    expect(errorOf(await collect(block, input, contextFor(local.emulator)))).toMatch(
      /succeeded but returned no output\. Run it again/,
    );
  });
});

describe('proxies and versions', () => {
  test('a base URL with a path prefix (Replicate-compatible proxy) is used for every request', async () => {
    local.plan = { processingMs: 1300 };
    const proxy = await startProxy(local.emulator);
    try {
      const outputs = await collect(block, input, contextFor(local.emulator, { baseUrl: proxy.url, waitSeconds: 1 }));
      expect(names(outputs)).toEqual(['result', 'seed']);
      expect(proxy.seen[0]!.path).toBe('/replicate/v1/models/black-forest-labs/flux-schnell/predictions');
      expect(proxy.seen.slice(1).every((r) => /^\/replicate\/v1\/predictions\/[a-z2-7]+$/.test(r.path))).toBe(true);
      expect(proxy.seen.length).toBeGreaterThan(1);
    } finally {
      await proxy.close();
    }
  });

  test.each([
    [
      'owner/name:version',
      'lucataco/flux-schnell-lora:2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574',
    ],
    ['bare version id', '2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574'],
  ])('a %s runs through POST /predictions with version', async (_, version) => {
    const prediction = await clientFor(local.emulator).run({ model: version, input: { prompt: 'x', num_outputs: 2 } });
    expect(local.emulator.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/predictions',
      body: { version, input: { prompt: 'x', num_outputs: 2 } },
    });
    expect(prediction).toMatchObject({
      status: 'succeeded',
      version: '2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574',
    });
    expect(prediction.output).toHaveLength(2);
  });
});

import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { ReplicateFluxAdvancedModelBlock as block } from '../blocks/index.js';
import { startEmulator, type Emulator, type PredictionPlan } from '../emulator/index.js';
import type { BlockContext } from '../shared/block.js';
import { BlockError } from '../shared/errors.js';
import { runPrediction, type ProgressEvent } from '../shared/replicate.js';
import { collect, contextFor, CREDENTIALS, requestsTo, startProxy, TOKEN } from './helpers.js';

let emulator: Emulator;
let plan: PredictionPlan = {};
beforeAll(async () => {
  emulator = await startEmulator({ startingMs: 10, processingMs: 40, plan: () => plan });
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.requests.splice(0);
  plan = {};
});

const input = { credentials: CREDENTIALS, prompt: 'a paper boat on a pond', seed: 7 };
const names = (outputs: Array<readonly [string, unknown]>) => outputs.map(([name]) => name);

/** The prediction's state on the emulator, read through the API. */
async function remote(id: string): Promise<{ status: string }> {
  const response = await fetch(`${emulator.url}/predictions/${id}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  return (await response.json()) as { status: string };
}

/** The message of the one `error` output. */
function errorOf(outputs: Array<readonly [string, unknown]>): string {
  expect(names(outputs)).toEqual(['error']);
  return outputs[0]![1] as string;
}

describe('waiting', () => {
  test('a prediction that ends within the sync wait needs one request', async () => {
    const outputs = await collect(block, input, contextFor(emulator));
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(emulator.requests).toHaveLength(1);
    const [create] = emulator.requests;
    expect(create!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(create!.headers.prefer).toBe('wait=60');
    expect(create!.headers['cancel-after']).toBe('600s');
  });

  test('a prediction that outlasts the sync wait is polled until it ends', async () => {
    plan = { processingMs: 1800 };
    const events: ProgressEvent[] = [];
    const outputs = await collect(block, input, contextFor(emulator, { waitSeconds: 1, onProgress: (e) => events.push(e) }));
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(emulator.requests[0]!.headers.prefer).toBe('wait=1');
    const polls = requestsTo(emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/);
    expect(polls.length).toBeGreaterThan(1);
    expect(events[0]).toMatchObject({ status: 'processing' });
    expect(events.at(-1)).toEqual({ predictionId: events[0]!.predictionId, status: 'succeeded', percent: 100 });
    const percents = events.map((e) => e.percent ?? 0);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
  });

  test('processing with partial output is not done: a later failure yields only the error', async () => {
    plan = { processingMs: 1500, partialOutput: true, outcome: 'failed', error: 'NSFW content detected' };
    const outputs = await collect(block, input, contextFor(emulator, { waitSeconds: 1 }));
    expect(errorOf(outputs)).toMatch(/^Prediction [a-z2-7]+ failed: NSFW content detected$/);
    expect(requestsTo(emulator, 'GET', /^\/v1\/predictions\//).length).toBeGreaterThan(0);
  });

  test('processing with partial output is polled to success before yielding', async () => {
    plan = { processingMs: 1300, partialOutput: true };
    const events: ProgressEvent[] = [];
    const outputs = await collect(block, input, contextFor(emulator, { waitSeconds: 1, onProgress: (e) => events.push(e) }));
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(events.map((e) => e.status)).toContain('processing');
    expect(events.at(-1)!.status).toBe('succeeded');
  });

  test('a timeout under one second sends no Prefer header and still polls to the end', async () => {
    plan = { processingMs: 100 };
    const outputs = await collect(block, input, contextFor(emulator, { timeoutMs: 900 }));
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(emulator.requests[0]!.headers.prefer).toBeUndefined();
    expect(emulator.requests[0]!.headers['cancel-after']).toBe('5s');
  });
});

describe('terminal statuses', () => {
  test('failed yields Replicate\'s error text', async () => {
    plan = { outcome: 'failed', error: 'CUDA out of memory' };
    expect(errorOf(await collect(block, input, contextFor(emulator)))).toMatch(/failed: CUDA out of memory$/);
  });

  test('canceled yields an error saying so', async () => {
    plan = { outcome: 'canceled' };
    expect(errorOf(await collect(block, input, contextFor(emulator)))).toMatch(/^Prediction [a-z2-7]+ was canceled/);
  });

  test('aborted yields an error saying so', async () => {
    plan = { outcome: 'aborted' };
    expect(errorOf(await collect(block, input, contextFor(emulator)))).toMatch(/^Prediction [a-z2-7]+ was aborted before it started/);
  });

  test('a list output yields one result per image, in order, then the seed', async () => {
    const urls = ['https://img.test/a.webp', 'https://img.test/b.webp', 'https://img.test/c.webp'];
    plan = { output: urls };
    const outputs = await collect(block, input, contextFor(emulator));
    expect(outputs).toEqual([...urls.map((url) => ['result', url]), ['seed', 7]]);
  });

  test.each([[null], [[]], ['']])('success with output %j is an error, not a placeholder result', async (output) => {
    plan = { output };
    expect(errorOf(await collect(block, input, contextFor(emulator)))).toMatch(/succeeded but returned no output$/);
  });
});

describe('timeout and abort cancel the prediction', () => {
  test('timeout while polling: cancel is sent, then the error', async () => {
    plan = { processingMs: 10_000 };
    const outputs = await collect(block, input, contextFor(emulator, { timeoutMs: 1500 }));
    const message = errorOf(outputs);
    const id = /prediction ([a-z2-7]+) was canceled$/.exec(message)?.[1];
    expect(message).toMatch(/^The run timed out after 1500 ms; prediction [a-z2-7]+ was canceled$/);
    expect(requestsTo(emulator, 'POST', new RegExp(`^/v1/predictions/${id}/cancel$`))).toHaveLength(1);
    expect((await remote(id!)).status).toBe('canceled');
  });

  test('host abort during the sync wait: the prediction is found and canceled', async () => {
    plan = { processingMs: 10_000 };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const message = errorOf(await collect(block, input, contextFor(emulator, {}, controller.signal)));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(message).toMatch(/^The run was aborted by the host; prediction [a-z2-7]+ was canceled$/);
    const id = /prediction ([a-z2-7]+) was canceled$/.exec(message)![1]!;
    expect(requestsTo(emulator, 'GET', /^\/v1\/predictions\?created_after=/)).toHaveLength(1);
    expect(requestsTo(emulator, 'POST', /\/cancel$/).map((r) => r.path)).toEqual([`/v1/predictions/${id}/cancel`]);
    expect((await remote(id)).status).toBe('canceled');
  });

  test('host abort while polling: cancel is sent by id', async () => {
    plan = { processingMs: 10_000 };
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1300);
    const message = errorOf(await collect(block, input, contextFor(emulator, { waitSeconds: 1 }, controller.signal)));
    const id = /prediction ([a-z2-7]+) was canceled$/.exec(message)![1]!;
    expect(requestsTo(emulator, 'GET', /^\/v1\/predictions\?/)).toHaveLength(0);
    expect(requestsTo(emulator, 'POST', /\/cancel$/).map((r) => r.path)).toEqual([`/v1/predictions/${id}/cancel`]);
    expect((await remote(id)).status).toBe('canceled');
  });

  test('an already aborted signal makes no request', async () => {
    const message = errorOf(await collect(block, input, contextFor(emulator, {}, AbortSignal.abort())));
    expect(message).toMatch(/aborted by the host/);
    expect(emulator.requests).toHaveLength(0);
  });
});

describe('HTTP errors', () => {
  test('401 yields the problem detail and a hint, never the token', async () => {
    const strict = await startEmulator({ token: 'the-only-valid-token' });
    try {
      const message = errorOf(await collect(block, input, contextFor(strict)));
      expect(message).toBe('Replicate API error 401 Unauthenticated: You did not pass a valid authentication token (check the Replicate API token)');
      expect(message).not.toContain(TOKEN);
    } finally {
      await strict.close();
    }
  });

  test('422 yields every invalid field Replicate names', async () => {
    const context: BlockContext = contextFor(emulator);
    const run = runPrediction({ model: 'black-forest-labs/flux-pro', input: { prompt: 'x', guidance: 99, steps: 0 } }, context);
    await expect(run).rejects.toThrow(new BlockError(
      'Replicate API error 422 Input validation failed: guidance must be <= 5; steps must be >= 1',
    ));
  });

  test('404 for an unknown model names it and hints at the base URL', async () => {
    const run = runPrediction({ model: 'black-forest-labs/flux-nope', input: { prompt: 'x' } }, contextFor(emulator));
    await expect(run).rejects.toThrow('Replicate API error 404 Not found: Model black-forest-labs/flux-nope was not found (check the model name and the base URL)');
  });

  test('an unreachable base URL is a network error naming it', async () => {
    const closed = await startEmulator();
    await closed.close();
    const message = errorOf(await collect(block, input, contextFor(closed)));
    expect(message).toBe(`Could not reach the Replicate API at ${closed.url}: ECONNREFUSED`);
  });

  test('an answer that is not JSON, or not a prediction, says so', async () => {
    const html = await startProxy(emulator, () => ({ status: 200, body: '<html>login</html>' }));
    const other = await startProxy(emulator, () => ({ status: 200, body: { hello: 'world' } }));
    try {
      expect(errorOf(await collect(block, input, contextFor(emulator, { baseUrl: other.url })))).toBe(
        `The Replicate API at ${other.url} answered with something that is not a prediction`,
      );
      expect(errorOf(await collect(block, input, contextFor(emulator, { baseUrl: html.url })))).toBe(
        `The Replicate API at ${html.url} answered with something that is not JSON`,
      );
    } finally {
      await Promise.all([html.close(), other.close()]);
    }
  });

  test('a host callback that throws ends the run with its message, and the prediction is canceled', async () => {
    plan = { processingMs: 5000 };
    const context = contextFor(emulator, { waitSeconds: 1, onProgress: () => { throw new Error('host bug'); } });
    const message = errorOf(await collect(block, input, context));
    expect(message).toMatch(/^Unexpected error: host bug; prediction [a-z2-7]+ was canceled$/);
  });

  test('a proxy that echoes the Authorization header cannot leak the token', async () => {
    const proxy = await startProxy(emulator, (req) => ({ status: 400, body: { title: 'Bad Request', detail: `bad header ${req.headers.authorization}`, status: 400 } }));
    try {
      const message = errorOf(await collect(block, input, contextFor(emulator, { baseUrl: proxy.url })));
      expect(message).toBe('Replicate API error 400 Bad Request: bad header Bearer [REDACTED]');
    } finally {
      await proxy.close();
    }
  });
});

describe('proxies, retries and versions', () => {
  test('a base URL with a path prefix (Replicate-compatible proxy) is used for every request', async () => {
    plan = { processingMs: 1300 };
    const proxy = await startProxy(emulator);
    try {
      const outputs = await collect(block, input, contextFor(emulator, { baseUrl: proxy.url, waitSeconds: 1 }));
      expect(names(outputs)).toEqual(['result', 'seed']);
      expect(proxy.seen[0]!.path).toBe('/replicate/v1/models/black-forest-labs/flux-schnell/predictions');
      expect(proxy.seen.slice(1).every((r) => /^\/replicate\/v1\/predictions\/[a-z2-7]+$/.test(r.path))).toBe(true);
      expect(proxy.seen.length).toBeGreaterThan(1);
    } finally {
      await proxy.close();
    }
  });

  test('a 429 on create is retried; a 500 on create is not (it may have created a prediction)', async () => {
    let creates = 0;
    const proxy = await startProxy(emulator, (req) => {
      if (req.method !== 'POST' || !req.path.includes('/models/')) return undefined;
      creates += 1;
      if (creates === 1) return { status: 429, body: { title: 'Too Many Requests', status: 429 }, headers: { 'Retry-After': '0' } };
      if (creates === 3) return { status: 500, body: { title: 'Internal Server Error', status: 500 } };
      return undefined;
    });
    try {
      expect(names(await collect(block, input, contextFor(emulator, { baseUrl: proxy.url })))).toEqual(['result', 'seed']);
      expect(creates).toBe(2);
      expect(errorOf(await collect(block, input, contextFor(emulator, { baseUrl: proxy.url })))).toBe('Replicate API error 500 Internal Server Error');
      expect(creates).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  test('a poll that keeps failing ends in an error after the prediction is canceled', async () => {
    plan = { processingMs: 10_000 };
    const proxy = await startProxy(emulator, (req) => (req.method === 'GET' ? { status: 502, body: { title: 'Bad Gateway', status: 502 }, headers: { 'Retry-After': '0' } } : undefined));
    try {
      const message = errorOf(await collect(block, input, contextFor(emulator, { baseUrl: proxy.url, waitSeconds: 1 })));
      expect(message).toMatch(/^Replicate API error 502 Bad Gateway; prediction [a-z2-7]+ was canceled$/);
      expect(proxy.seen.filter((r) => r.method === 'GET')).toHaveLength(3);
      const id = /prediction ([a-z2-7]+) was canceled/.exec(message)![1]!;
      expect((await remote(id)).status).toBe('canceled');
    } finally {
      await proxy.close();
    }
  });

  test.each([
    ['owner/name:version', 'lucataco/flux-schnell-lora:2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574'],
    ['bare version id', '2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574'],
  ])('a %s runs through POST /predictions with version', async (_, version) => {
    const prediction = await runPrediction({ model: version, input: { prompt: 'x', num_outputs: 2 } }, contextFor(emulator));
    expect(emulator.requests[0]).toMatchObject({ method: 'POST', path: '/v1/predictions', body: { version, input: { prompt: 'x', num_outputs: 2 } } });
    expect(prediction).toMatchObject({ status: 'succeeded', version: '2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574' });
    expect(prediction.output).toHaveLength(2);
  });
});

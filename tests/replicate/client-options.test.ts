import { describe, expect, test } from '@jest/globals';
import {
  BlockError,
  createReplicateClient,
  createWebhookReceiver,
  type Prediction,
  type ProgressEvent,
  type WebhookReceiver,
} from '../../index.js';
import { clientFor, freshToken, own, requestsTo, scaled, startProxy, TOKEN, useEmulator } from '../helpers.js';

// What createReplicateClient checks and sets up before any call: the token, the runner options,
// the sync wait of runs with a progress callback, wait's callbacks, and the webhook secret's load.
const local = useEmulator();

const request = { model: 'black-forest-labs/flux-schnell', input: { prompt: 'a lighthouse in fog', seed: 3 } };
const creates = () => requestsTo(local.emulator, 'POST', /\/predictions$/);
const secretFetches = () => requestsTo(local.emulator, 'GET', /^\/v1\/webhooks\/default\/secret$/);

/** What `make` threw (fails the test when it threw nothing). */
function thrown(make: () => unknown): unknown {
  try {
    make();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('the API token', () => {
  test('a missing or blank token is refused as invalid_input naming credentials, before any request', () => {
    for (const token of ['', '  \n', undefined as unknown as string]) {
      const error = thrown(() => createReplicateClient({ token, baseUrl: local.emulator.url }));
      expect(error).toBeInstanceOf(BlockError);
      expect(error).toMatchObject({
        kind: 'invalid_input',
        message: expect.stringContaining('credentials: no Replicate API token was given'),
      });
    }
    expect(local.emulator.requests).toHaveLength(0);
  });

  test('a token pasted with spaces or a line break around it is sent trimmed', async () => {
    const proxy = await own(startProxy(local.emulator), (p) => p.close());
    const client = createReplicateClient({ token: `  ${TOKEN}\n`, baseUrl: proxy.url, pollIntervalMs: 20 });
    expect((await client.run(request)).status).toBe('succeeded');
    expect(proxy.seen.map((r) => r.headers.authorization)).toEqual([`Bearer ${TOKEN}`]);
  });
});

describe('the webhook option', () => {
  test('a URL whose scheme only ends in http(s), or no receiver at all, is refused before any request', () => {
    const receiver = createWebhookReceiver({ secret: 'whsec_dGVzdA==' });
    const refusals = [
      [{ url: 'git+https://hooks.example.com/replicate', receiver }, /webhook\.url: must be an http\(s\) URL/],
      [
        { url: 'https://hooks.example.com/replicate', receiver: undefined as unknown as WebhookReceiver },
        /webhook\.receiver: must be a receiver from createWebhookReceiver/,
      ],
      [
        { url: 'https://hooks.example.com/replicate', receiver: null as unknown as WebhookReceiver },
        /webhook\.receiver: must be a receiver from createWebhookReceiver/,
      ],
    ] as const;
    for (const [webhook, message] of refusals) {
      const error = thrown(() => clientFor(local.emulator, { webhook }));
      expect(error).toBeInstanceOf(BlockError);
      expect(error).toMatchObject({ kind: 'invalid_input', message: expect.stringMatching(message) });
    }
    expect(local.emulator.requests).toHaveLength(0);
  });
});

describe('the sync wait', () => {
  test('a run with a progress callback asks for 1 s (Prefer: wait=1) so its status shows, unless waitSeconds is set', async () => {
    const onProgress = () => {};
    await clientFor(local.emulator).run(request, { onProgress });
    await clientFor(local.emulator, { waitSeconds: 5 }).run(request, { onProgress });
    await clientFor(local.emulator).run(request);
    expect(creates().map((r) => r.headers.prefer)).toEqual(['wait=1', 'wait=5', 'wait=60']);
  });
});

describe('wait', () => {
  test('reports progress and the end of an existing prediction to its callbacks, as run does', async () => {
    local.plan = { processingMs: 300 };
    const created = await fetch(`${local.emulator.url}/models/${request.model}/predictions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ input: request.input }),
    });
    const { id } = (await created.json()) as { id: string };
    const progress: ProgressEvent[] = [];
    const completed: Prediction[] = [];
    const done = await clientFor(local.emulator).wait(id, {
      onProgress: (event) => progress.push(event),
      onCompleted: (prediction) => completed.push(prediction),
    });
    expect(done).toMatchObject({ id, status: 'succeeded' });
    expect(progress.at(-1)).toEqual({ predictionId: id, status: 'succeeded', percent: 100 });
    expect(completed.map((p) => [p.id, p.status])).toEqual([[id, 'succeeded']]);
    expect(creates()).toHaveLength(1); // the test's own: wait never creates
  });
});

describe("the webhook secret's load (GET /v1/webhooks/default/secret)", () => {
  // Each test's receiver has no secret yet, so the run loads it; the runs fail before their create,
  // so nothing is delivered to the URL.
  const webhookClient = (options: Parameters<typeof clientFor>[1] = {}) =>
    clientFor(local.emulator, {
      webhook: { url: 'http://127.0.0.1:9/hooks/replicate', receiver: createWebhookReceiver() },
      ...options,
    });

  test('an answer without a key fails the run as bad_response naming the endpoint, before its create', async () => {
    local.emulator.inject({ route: 'webhook-secret', answer: { status: 200, body: { secret: 'whsec_dGVzdA==' } } });
    const error = await webhookClient()
      .run(request)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlockError);
    expect(error).toMatchObject({
      kind: 'bad_response',
      message: expect.stringContaining(
        `The Replicate API at ${local.emulator.url} answered GET /webhooks/default/secret without a key`,
      ),
    });
    expect(creates()).toHaveLength(0);

    local.emulator.inject({ route: 'webhook-secret', answer: { status: 200, body: { key: 42 } } });
    await expect(webhookClient().webhook!.loadSecret()).rejects.toMatchObject({ kind: 'bad_response' });
    expect(secretFetches()).toHaveLength(2);
  });

  test("a rate limit that lasts past the run's timeout fails the run at once as rate_limited, not at its timeout", async () => {
    local.emulator.inject({ route: 'webhook-secret', answer: { status: 429, retryAfter: '120' } });
    // Its own token: the 429 holds back every later request of the token in this process.
    const client = webhookClient({ token: freshToken(), timeoutMs: 5_000 });
    const error = await client.run(request).catch((e: unknown) => e);
    expect(error).toMatchObject({
      kind: 'rate_limited',
      message: expect.stringContaining("after the run's timeout of 5000 ms"),
    });
    expect(secretFetches()).toHaveLength(1);
    expect(creates()).toHaveLength(0);
  });

  test('an answer that never comes ends the run at its timeout, not after the retries of a 30 s request', async () => {
    local.emulator.inject({ route: 'webhook-secret', answer: 'hang', times: 5 });
    const started = Date.now();
    const error = await webhookClient({ timeoutMs: 1_000 })
      .run(request)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'timed_out', message: expect.stringContaining('timed out after 1000 ms') });
    // Before the fix it took 5 attempts of 30 s (155 s).
    expect(Date.now() - started).toBeLessThan(scaled(10_000));
    expect(creates()).toHaveLength(0);
  });
});

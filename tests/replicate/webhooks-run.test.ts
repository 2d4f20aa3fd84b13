import { describe, expect, test } from '@jest/globals';
import { ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { BlockError, createWebhookReceiver, type ProgressEvent, type WebhookReceiver } from '../../index.js';
import {
  abortWhen,
  canceledId,
  clientFor,
  collect,
  contextFor,
  CREDENTIALS,
  names,
  remote,
  requestsTo,
  until,
  useEmulator,
  useWebhookReceiver,
} from '../helpers.js';

// Predictions outlast the 1 s sync wait, so the run has to wait for them after the create.
const local = useEmulator({ startingMs: 50, processingMs: 1_500 });
const hooks = useWebhookReceiver();

const request = { model: 'black-forest-labs/flux-schnell', input: { prompt: 'a heron at dawn', seed: 1 } };
const webhookClient = (options: Parameters<typeof clientFor>[1] = {}) =>
  clientFor(local.emulator, { waitSeconds: 1, webhook: hooks.webhook, ...options });
const polls = () => requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/);
/** The emulator records a delivery's answer just after the receiver has acted on it: wait for it. */
const answered = (event: string, field: 'status' | 'duplicateStatus' = 'status') =>
  until(() => deliveries(event)[0]?.[field] !== undefined);
const deliveries = (event: string) => local.emulator.webhooks.deliveries.filter((d) => d.event === event);

describe('a run with webhooks', () => {
  test('is created with webhook and its filter, ends on the completed delivery with zero GETs, and reports progress from logs deliveries', async () => {
    const progress: ProgressEvent[] = [];
    const prediction = await webhookClient().run(request, { onProgress: (event) => progress.push(event) });
    expect(prediction.status).toBe('succeeded');
    const [create] = requestsTo(local.emulator, 'POST', /\/predictions$/);
    expect(create!.body).toMatchObject({
      webhook: hooks.server.url,
      webhook_events_filter: ['start', 'logs', 'completed'],
    });
    expect(polls()).toHaveLength(0);
    await answered('completed');
    expect(deliveries('completed').map((d) => d.status)).toEqual([200]);
    expect(deliveries('logs').length).toBeGreaterThan(0);
    // Percentages only the logs deliveries (after the create's answer) can have brought.
    const percents = progress.map((e) => e.percent).filter((p): p is number => p !== undefined);
    expect(percents.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toMatchObject({ status: 'succeeded', percent: 100 });
  });

  test('fetches the webhook secret once (GET /v1/webhooks/default/secret) and caches it in the receiver', async () => {
    await Promise.all([
      webhookClient().run(request),
      webhookClient().run({ ...request, input: { ...request.input, seed: 2 } }),
    ]);
    // The receiver got its secret in an earlier test: no client asks again.
    expect(requestsTo(local.emulator, 'GET', /^\/v1\/webhooks\/default\/secret$/)).toHaveLength(0);
  });

  test('a failed secret fetch fails that run before its create, and the next run fetches the secret again', async () => {
    const fresh = createWebhookReceiver();
    const own = await fresh.listen(0);
    try {
      const client = webhookClient({ webhook: { url: own.url, receiver: fresh } });
      local.emulator.inject({ route: 'webhook-secret', answer: { status: 403 } });
      const error = await client.run(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BlockError);
      expect(requestsTo(local.emulator, 'POST', /\/predictions$/)).toHaveLength(0);
      const prediction = await client.run(request);
      expect(prediction.status).toBe('succeeded');
      expect(requestsTo(local.emulator, 'GET', /^\/v1\/webhooks\/default\/secret$/).map((r) => r.outcome)).toEqual([
        403, 200,
      ]);
      // Ended by its completed delivery, which the receiver verified with the secret fetched the second time.
      expect(polls()).toHaveLength(0);
    } finally {
      await own.close();
    }
  });

  test('a dropped completed delivery is rescued by the safety poll at the deadline', async () => {
    local.emulator.webhooks.inject({ action: 'drop' });
    const started = Date.now();
    const prediction = await webhookClient({ timeoutMs: 4_000 }).run(request);
    expect(prediction.status).toBe('succeeded');
    expect(deliveries('completed').map((d) => d.fault)).toEqual(['drop']);
    expect(polls()).toHaveLength(1);
    // The deadline poll: a tenth of the timeout before it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_500);
  });

  test('a forged completed delivery is refused (401) without effect; the safety poll ends the run', async () => {
    local.emulator.webhooks.inject({ action: 'forge' });
    const prediction = await webhookClient({ timeoutMs: 4_000 }).run(request);
    expect(prediction.status).toBe('succeeded');
    // Refused on every retry, and the run still waited for its poll.
    const [forged] = deliveries('completed');
    expect([forged!.fault, forged!.status]).toEqual(['forge', 401]);
    expect(forged!.attempts).toBeGreaterThan(1);
    expect(polls()).toHaveLength(1);
  });

  test('a duplicated completed delivery ends the run once', async () => {
    local.emulator.webhooks.inject({ action: 'duplicate' });
    const progress: ProgressEvent[] = [];
    await webhookClient().run(request, { onProgress: (e) => progress.push(e) });
    await answered('completed', 'duplicateStatus');
    expect(deliveries('completed').map((d) => [d.status, d.duplicateStatus])).toEqual([[200, 200]]);
    expect(progress.filter((e) => e.status === 'succeeded')).toHaveLength(1);
  });

  test('a delivery retried after a 5xx from the receiver ends the run', async () => {
    const flaky = createWebhookReceiver({ secret: local.emulator.webhooks.secret });
    let refused = 0;
    const own = await (
      await import('node:http')
    ).createServer((req, res) => {
      if (req.headers['webhook-id'] && refused < 1 && req.method === 'POST') {
        refused += 1;
        req.resume();
        return void res.writeHead(503).end();
      }
      flaky.handler(req, res);
    });
    await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(own.address() as { port: number }).port}/hook`;
      const prediction = await webhookClient({ webhook: { url, receiver: flaky } }).run({
        ...request,
        input: { ...request.input, seed: 9 },
      });
      expect(prediction.status).toBe('succeeded');
      expect(polls()).toHaveLength(0);
    } finally {
      own.closeAllConnections();
      own.close();
    }
  });

  test('abort while waiting for the webhook: host_aborted, and the prediction is canceled', async () => {
    local.emulator.webhooks.inject({ action: 'drop' });
    // Still processing when the cancel comes, however loaded the machine: with the file's 1.5 s,
    // the cancel could arrive after the prediction had succeeded (seen under Stryker on 2 busy cores).
    local.plan = { processingMs: 10_000 };
    // Once the create has answered (after its 1 s sync wait), the run waits for the webhook.
    const { signal } = abortWhen(() => requestsTo(local.emulator, 'POST', /\/predictions$/)[0]?.outcome !== undefined);
    const error = await webhookClient()
      .run(request, { signal })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlockError);
    expect((error as BlockError).kind).toBe('host_aborted');
    const id = canceledId(`${(error as BlockError).detail}.`);
    expect((await remote(local.emulator, id)).status).toBe('canceled');
  });

  test('timeout while waiting for the webhook: timed_out after the deadline poll, and the prediction is canceled', async () => {
    local.plan = { processingMs: 10_000 };
    const started = Date.now();
    const error = await webhookClient({ timeoutMs: 2_500 })
      .run(request)
      .catch((e: unknown) => e);
    expect((error as BlockError).kind).toBe('timed_out');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(polls()).toHaveLength(1);
    const id = canceledId(`${(error as BlockError).detail}.`);
    expect((await remote(local.emulator, id)).status).toBe('canceled');
    // The cancel's own completed delivery comes, and changes nothing.
    await answered('completed');
    expect(deliveries('completed').map((d) => d.status)).toEqual([200]);
  });

  test('a prediction canceled elsewhere ends the run as canceled, by its completed delivery', async () => {
    const client = webhookClient();
    const pending = client.run(request).catch((e: unknown) => e);
    // Canceled once the create has answered, while the run waits for the webhook.
    const create = await until(() =>
      requestsTo(local.emulator, 'POST', /\/predictions$/).find((r) => r.outcome !== undefined),
    );
    const listed = await fetch(`${local.emulator.url}/predictions`, { headers: { Authorization: 'Bearer x' } }).then(
      (r) => r.json() as Promise<{ results: Array<{ id: string; input: unknown }> }>,
    );
    const id = listed.results.find(
      (p) => JSON.stringify(p.input) === JSON.stringify((create!.body as { input: unknown }).input),
    )!.id;
    await client.cancel(id);
    expect(((await pending) as BlockError).kind).toBe('canceled');
    expect(polls()).toHaveLength(0);
  });

  test('blocks take it as runner.webhook', async () => {
    const outputs = await collect(
      block,
      { credentials: CREDENTIALS, prompt: 'a heron at dusk' },
      contextFor(local.emulator, { waitSeconds: 1, webhook: hooks.webhook }),
    );
    expect(names(outputs)).toContain('result');
    expect(polls()).toHaveLength(0);
  });

  test('a webhook URL that is not http(s), or no receiver, is refused before any request', () => {
    expect(() =>
      clientFor(local.emulator, { webhook: { url: 'ftp://example.com/hook', receiver: hooks.receiver } }),
    ).toThrow(/webhook\.url: must be an http\(s\) URL/);
    expect(() =>
      clientFor(local.emulator, { webhook: { url: hooks.server.url, receiver: {} as WebhookReceiver } }),
    ).toThrow(/webhook\.receiver: must be a receiver from createWebhookReceiver/);
    expect(local.emulator.requests).toHaveLength(0);
  });
});

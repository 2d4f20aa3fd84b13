import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from '@jest/globals';
import { BlockError, type ProgressEvent } from '../../index.js';
import {
  abortWhen,
  clientFor,
  freshToken,
  own,
  remote,
  requestsTo,
  scaled,
  TOKEN,
  until,
  useEmulator,
  useWebhookReceiver,
} from '../helpers.js';

// How a run waits for its prediction, reports it and cleans up after it (shared/replicate/prediction-run.ts).
const local = useEmulator({ startingMs: 20, processingMs: 1_500 });
const hooks = useWebhookReceiver();

const SCHNELL = 'black-forest-labs/flux-schnell';
const LORA = 'lucataco/flux-schnell-lora:2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574';
const request = { model: SCHNELL, input: { prompt: 'a lighthouse in fog', seed: 5 } };
const polls = () => requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/);
const cancels = () => requestsTo(local.emulator, 'POST', /^\/v1\/predictions\/[a-z2-7]+\/cancel$/);
const deliveries = (event: string) => local.emulator.webhooks.deliveries.filter((d) => d.event === event);
/** A polling client with its own token (rate-limit state is per token). */
const pollingClient = (options: Parameters<typeof clientFor>[1] = {}) =>
  clientFor(local.emulator, { token: freshToken(), waitSeconds: 1, ...options });
const webhookClient = (options: Parameters<typeof clientFor>[1] = {}) =>
  pollingClient({ webhook: hooks.webhook, ...options });
/**
 * A proxy in front of `target` (the emulator's base URL) that forwards every request and holds
 * each answer until `hold(path)` resolves, as a slow network would. Its `url` is a base URL.
 */
async function startSlowProxy(target: string, hold: (path: string) => Promise<void>) {
  const origin = new URL(target).origin;
  const proxy = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(
        ['authorization', 'content-type', 'prefer', 'cancel-after']
          .filter((name) => req.headers[name] !== undefined)
          .map((name) => [name, String(req.headers[name])]),
      );
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      const answer = await fetch(`${origin}${req.url}`, { method: req.method, headers, body });
      const text = await answer.text();
      await hold(req.url!);
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' }).end(text);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        proxy.close(() => resolve());
        proxy.closeAllConnections();
      }),
  };
}

/** What a run rejected with. */
const failure = (run: Promise<unknown>) =>
  run.then(
    () => {
      throw new Error('the run succeeded');
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(BlockError);
      return error as BlockError;
    },
  );
/** The prediction id a message names as canceled. */
const canceled = (detail: string) => /; prediction ([a-z2-7]+) was canceled$/.exec(detail)?.[1];

describe('progress', () => {
  test('each status and percent is reported once, however many polls see it', async () => {
    // Five percents (flux-schnell's 4 steps) over 3 s: after the 1 s sync wait of a run with a
    // progress callback, 2 s of polls every 20 ms see each one many times, however busy the machine.
    local.plan = { processingMs: 3_000 };
    const progress: ProgressEvent[] = [];
    const prediction = await pollingClient().run(request, { onProgress: (event) => progress.push(event) });
    expect(prediction.status).toBe('succeeded');
    // Polls every 20 ms see each percent several times; each change is reported once.
    expect(polls().length).toBeGreaterThan(progress.length);
    const keys = progress.map((e) => `${e.status}:${e.percent}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(progress.at(-1)).toMatchObject({ status: 'succeeded', percent: 100 });
  });
});

describe("a failed prediction's error", () => {
  test('is trimmed; one of only whitespace reads as no reason given', async () => {
    local.plan = { processingMs: 50, outcome: 'failed', error: ' CUDA out of memory\n' };
    expect((await failure(pollingClient().run(request))).detail).toMatch(
      /^Prediction [a-z2-7]+ failed: CUDA out of memory$/,
    );
    local.plan = { processingMs: 50, outcome: 'failed', error: ' \n ' };
    expect((await failure(pollingClient().run(request))).detail).toMatch(
      /^Prediction [a-z2-7]+ failed, and Replicate gave no reason; its page may say more: /,
    );
  });
});

describe('answers that are not what the run expects', () => {
  test('a poll answered with JSON that is not a prediction: bad_response saying what is wrong with the body', async () => {
    local.plan = { processingMs: 3_000 };
    local.emulator.inject({ route: 'get', answer: { status: 200, body: ['not', 'a', 'prediction'] } });
    const error = await failure(pollingClient().run(request));
    expect(error.kind).toBe('bad_response');
    expect(error.detail).toMatch(
      /^The Replicate API at http:\/\/127\.0\.0\.1:\d+\/v1 answered 200 \(application\/json\) with JSON that is not a prediction \(body: must be an object, got array\); prediction [a-z2-7]+ was canceled$/,
    );
  });

  test('a create refused with 400 for an empty input says there is no largest input', async () => {
    local.emulator.inject({ route: 'create', answer: { status: 400 } });
    const error = await failure(pollingClient().run({ model: SCHNELL, input: {} }));
    expect(error.detail).toMatch(/; the largest input is \(none\) \(0 bytes\)$/);
  });
});

describe('canceling an abandoned prediction', () => {
  test('a create of a version whose answer was lost: its prediction is found by the version and canceled', async () => {
    local.plan = { processingMs: 3_000 };
    local.emulator.inject({ route: 'create', answer: 'reset', afterHandling: true });
    const error = await failure(pollingClient().run({ model: LORA, input: { prompt: 'lost', hf_lora: 'owner/lora' } }));
    const id = canceled(error.detail);
    expect(id).toBeDefined();
    expect((await remote(local.emulator, id!)).status).toBe('canceled');
    expect(cancels()).toHaveLength(1);
  });

  test('the cancel waits for the rate-limit turn of the token when it comes within 30 s', async () => {
    local.plan = { processingMs: 20_000 };
    local.emulator.inject({ route: 'get', answer: { status: 429, retryAfter: '1' } });
    const stopped = abortWhen(() => polls().some((r) => r.outcome === 429));
    const error = await failure(pollingClient().run(request, { signal: stopped.signal }));
    expect(error.kind).toBe('host_aborted');
    const id = canceled(error.detail);
    expect(id).toBeDefined();
    expect((await remote(local.emulator, id!)).status).toBe('canceled');
  });

  test('a cancel whose rate-limit turn is more than 30 s away gives up at once, saying why, and names Cancel-After', async () => {
    local.plan = { processingMs: 20_000 };
    local.emulator.inject({ route: 'get', answer: { status: 429, retryAfter: '40' } });
    const started = Date.now();
    const error = await failure(pollingClient({ timeoutMs: 10_000 }).run(request));
    expect(error.kind).toBe('rate_limited');
    expect(error.detail).toMatch(
      /; canceling the prediction failed \(Replicate is rate limiting this API token: the next request could go out in (39|40) s, after the run's timeout of 10000 ms\), so Replicate stops it at its Cancel-After deadline$/,
    );
    // Well before the run's 10 s timeout, which a cancel waiting for its turn would reach.
    expect(Date.now() - started).toBeLessThan(scaled(8_000));
    expect(cancels()).toHaveLength(0);
  });
});

describe('a run with webhooks', () => {
  test('whose create answer is already terminal ends at once: deliveries that came before it change nothing', async () => {
    // The prediction ends within the sync wait; its start and logs deliveries reach the receiver first.
    local.plan = { processingMs: 1_200 };
    local.emulator.webhooks.inject({ action: 'drop' });
    const progress: ProgressEvent[] = [];
    const prediction = await webhookClient({ waitSeconds: 10, timeoutMs: 20_000 }).run(request, {
      onProgress: (event) => progress.push(event),
    });
    expect(prediction.status).toBe('succeeded');
    expect(deliveries('start')[0]?.status).toBe(200);
    expect(polls()).toHaveLength(0);
    expect(progress.map((e) => e.status)).toEqual(['succeeded']);
  });

  test('stopped by its caller as the prediction is created: rejects and cancels the prediction', async () => {
    local.plan = { processingMs: 5_000 };
    const controller = new AbortController();
    const error = await failure(
      webhookClient().run(request, { signal: controller.signal, onCreated: () => controller.abort() }),
    );
    expect(error.kind).toBe('host_aborted');
    const id = canceled(error.detail);
    expect(id).toBeDefined();
    expect((await remote(local.emulator, id!)).status).toBe('canceled');
  });

  test('stopped by its caller during a safety poll that hangs: rejects at once and cancels', async () => {
    local.plan = { processingMs: 20_000 };
    local.emulator.inject({ route: 'get', answer: 'hang' });
    const stopped = abortWhen(() => polls().length > 0);
    const error = await failure(webhookClient({ timeoutMs: 4_000 }).run(request, { signal: stopped.signal }));
    expect(Date.now() - stopped.abortedAt()!).toBeLessThan(scaled(3_000));
    expect(error.kind).toBe('host_aborted');
    expect(canceled(error.detail)).toBeDefined();
  });

  test("a safety poll's answer older than the completed delivery that came while it was on its way does not undo the end", async () => {
    local.plan = { processingMs: 60_000 };
    const proxy = await own(
      startSlowProxy(local.emulator.url, async (path) => {
        const id = /^\/v1\/predictions\/([a-z2-7]+)$/.exec(path)?.[1];
        if (!id) return;
        // The poll's answer says processing; before it arrives, the prediction is canceled
        // elsewhere and its completed delivery reaches the receiver.
        await fetch(`${local.emulator.url}/predictions/${id}/cancel`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        await until(() => deliveries('completed').some((d) => d.predictionId === id && d.status !== undefined));
      }),
      (started) => started.close(),
    );
    // The safety poll comes a second before the 10 s deadline; the run ends with the delivery, not the timeout.
    const error = await failure(webhookClient({ baseUrl: proxy.url, timeoutMs: 10_000 }).run(request));
    expect(error.kind).toBe('canceled');
    expect(polls()).toHaveLength(1);
    expect(polls()[0]!.outcome).toBe(200);
  });

  test('after it ended, deliveries about its prediction report nothing', async () => {
    // Four steps: a logs delivery with a new percent about every 2 s.
    local.plan = { processingMs: 8_000 };
    const progress: ProgressEvent[] = [];
    // Stopped once a logs delivery has reported progress (the create's answer reported the first).
    const stopped = abortWhen(() => progress.length >= 2);
    const error = await failure(
      webhookClient().run(request, { signal: stopped.signal, onProgress: (event) => progress.push(event) }),
    );
    expect(canceled(error.detail)).toBeDefined();
    const reported = progress.length;
    // The cancel makes the emulator send the completed delivery (status canceled).
    await until(() => deliveries('completed')[0]?.status !== undefined);
    expect(deliveries('completed')[0]?.status).toBe(200);
    expect(progress).toHaveLength(reported);
    expect(progress.map((e) => e.status)).not.toContain('canceled');
  });
});

import { describe, expect, test } from '@jest/globals';
import { ReplicateFluxTrainerBlock } from '../../blocks/index.js';
import { BlockError, type ProgressEvent } from '../../index.js';
import { trainVersion, type TrainOptions } from '../../shared/replicate/trainings.js';
import {
  abortWhen,
  clientFor,
  collect,
  contextFor,
  CREDENTIALS,
  names,
  requestsTo,
  until,
  useEmulator,
  useWebhookReceiver,
} from '../helpers.js';

// Trainings wait by webhook when the client has a receiver: progress from the deliveries' logs,
// the end from the completed one, confirmed by one GET; a safety poll rescues a lost delivery.
// Trainings last 1.2 s: long enough for a few logs deliveries (the emulator sends one per 0.5 s at most).
const local = useEmulator({ startingMs: 10, processingMs: 40, trainingMs: 1_200 });
const hooks = useWebhookReceiver();

let models = 0;
const request = () => ({
  destination: `me/webhook-lora-${++models}`,
  input: { input_images: 'https://example.com/photos.zip', trigger_word: 'ZXQ', steps: 200 },
});
const webhookClient = () => clientFor(local.emulator, { webhook: hooks.webhook });
/** Polls of a training (GET /v1/trainings/{id}); the cancel is not one. */
const gets = () => requestsTo(local.emulator, 'GET', /^\/v1\/trainings\/[a-z2-7]+$/);
const deliveries = (event: string) => local.emulator.webhooks.deliveries.filter((d) => d.event === event);
/** Polling would be every 20 ms: any wait that polls shows up as many GETs. */
const options = (more: TrainOptions = {}): TrainOptions => ({ pollIntervalMs: 20, maxPollIntervalMs: 20, ...more });

describe('a training with webhooks', () => {
  test('is created with webhook and its filter, takes its progress from logs deliveries, and ends with one confirming GET', async () => {
    const progress: ProgressEvent[] = [];
    const trained = await trainVersion(
      webhookClient(),
      request(),
      options({ onProgress: (event) => progress.push(event) }),
    );
    expect(trained.version).toMatch(/^me\/webhook-lora-\d+:[0-9a-f]{64}$/);
    const [create] = requestsTo(local.emulator, 'POST', /\/trainings$/);
    expect(create!.body).toMatchObject({
      webhook: hooks.server.url,
      webhook_events_filter: ['start', 'logs', 'completed'],
    });
    // Only the GET that confirms the completed delivery; no polls.
    expect(gets()).toHaveLength(1);
    expect(deliveries('completed').map((d) => d.status)).toEqual([200]);
    expect(deliveries('logs').length).toBeGreaterThan(0);
    // Steps that only the logs deliveries can have brought: the create answered `starting`, and nothing polled.
    const steps = progress.map((e) => e.message).filter((m) => m?.startsWith('step '));
    expect(steps.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toMatchObject({ status: 'succeeded', percent: 100, message: 'step 200 of 200' });
  });

  test('a dropped completed delivery: the safety poll finds the end', async () => {
    local.emulator.webhooks.inject({ action: 'drop' });
    const started = Date.now();
    const trained = await trainVersion(webhookClient(), request(), options({ safetyPollMs: 400 }));
    expect(trained.version).toMatch(/:[0-9a-f]{64}$/);
    expect(deliveries('completed').map((d) => d.fault)).toEqual(['drop']);
    // Safety polls only, one per 400 ms, however long it took: not one per 20 ms.
    expect(gets().length).toBeGreaterThanOrEqual(1);
    expect(gets().length).toBeLessThanOrEqual(Math.ceil((Date.now() - started) / 400) + 1);
  });

  test('a delivery with a bad signature is refused (401) and ignored; the safety poll finds the end', async () => {
    local.emulator.webhooks.inject({ action: 'forge' });
    const progress: ProgressEvent[] = [];
    const trained = await trainVersion(
      webhookClient(),
      request(),
      options({ safetyPollMs: 400, onProgress: (e) => progress.push(e) }),
    );
    expect(trained.version).toMatch(/:[0-9a-f]{64}$/);
    await until(() => deliveries('completed')[0]?.status !== undefined);
    const [forged] = deliveries('completed');
    expect([forged!.fault, forged!.status]).toEqual(['forge', 401]);
    expect(gets().length).toBeGreaterThanOrEqual(1);
    expect(progress.filter((e) => e.status === 'succeeded')).toHaveLength(1);
  });

  test('a forged failure sent to the receiver changes nothing', async () => {
    const progress: ProgressEvent[] = [];
    const pending = trainVersion(webhookClient(), request(), options({ onProgress: (e) => progress.push(e) }));
    // Once the training exists, a delivery saying it failed, signed with another secret.
    const created = await until(() => requestsTo(local.emulator, 'POST', /\/trainings$/)[0]?.outcome);
    expect(created).toBe(201);
    // The wait's first event names the training (the destination's creation names the model).
    const id = await until(() => progress.find((e) => !e.predictionId.includes('/'))?.predictionId);
    const body = JSON.stringify({ id, status: 'failed', error: 'forged', logs: '' });
    const answer = await fetch(hooks.server.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_forged',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,bm90IGEgc2lnbmF0dXJl',
      },
      body,
    });
    expect(answer.status).toBe(401);
    const trained = await pending;
    expect(trained.version).toMatch(/:[0-9a-f]{64}$/);
    expect(progress.some((e) => (e.status as string) === 'failed')).toBe(false);
    // The genuine completed delivery ended it, with its one confirming GET: a forged end taken in
    // would have cost a GET of its own.
    expect(gets()).toHaveLength(1);
  });

  test('aborting the wait cancels the training', async () => {
    const { signal } = abortWhen(() => deliveries('start').some((d) => d.status === 200));
    const error = await trainVersion(webhookClient(), request(), options({ signal })).catch((e: unknown) => e);
    expect((error as BlockError).kind).toBe('host_aborted');
    expect((error as BlockError).detail).toMatch(/^Training [a-z2-7]+ was stopped by the host\. It was canceled\./);
    expect(requestsTo(local.emulator, 'POST', /^\/v1\/trainings\/[^/]+\/cancel$/)[0]?.outcome).toBe(200);
  });

  test('past its timeout: one poll at the deadline, then timed_out, and the training is canceled', async () => {
    local.emulator.webhooks.inject({ action: 'drop' });
    const error = await trainVersion(
      webhookClient(),
      request(),
      options({ timeoutMs: 300, safetyPollMs: 60_000 }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlockError);
    expect((error as BlockError).kind).toBe('timed_out');
    expect((error as BlockError).detail).toMatch(/did not end within 300 ms\. It was canceled\./);
    expect(gets()).toHaveLength(1);
  });

  test('the trainer block waits by webhook when the host gives runner.webhook', async () => {
    const { destination } = request();
    const outputs = await collect(
      ReplicateFluxTrainerBlock,
      { credentials: CREDENTIALS, images_zip: 'https://example.com/photos.zip', destination },
      contextFor(local.emulator, { webhook: hooks.webhook }),
    );
    expect(names(outputs)).toEqual(['version', 'weights']);
    expect(requestsTo(local.emulator, 'POST', /\/trainings$/)[0]!.body).toMatchObject({ webhook: hooks.server.url });
    expect(gets()).toHaveLength(1);
  });
});

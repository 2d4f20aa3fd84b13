import { expect, test } from '@jest/globals';
import { BlockError } from '../../index.js';
import { clientFor, freshToken, remote, requestsTo, scaled, useEmulator, useWebhookReceiver } from '../helpers.js';

// The run's fixed bounds, which only runs of half a minute show: the 30 s safety poll of a
// webhook run, and the 30 s a cancel may take (shared/replicate/prediction-run.ts).
const local = useEmulator({ startingMs: 20, processingMs: 1_500 });
const hooks = useWebhookReceiver();

const request = { model: 'black-forest-labs/flux-schnell', input: { prompt: 'a glacier at noon', seed: 8 } };
const polls = () => requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/);
const cancels = () => requestsTo(local.emulator, 'POST', /^\/v1\/predictions\/[a-z2-7]+\/cancel$/);

test('a webhook run whose completed delivery is lost polls every 30 s and once more just before its deadline', async () => {
  // The run waits from the create's answer (after its 1 s sync wait): its safety poll comes about
  // 31 s after the create, its deadline poll at 34 s (2 s before the 36 s timeout). The
  // prediction ends between the two.
  local.plan = { processingMs: 32_500 };
  local.emulator.webhooks.inject({ action: 'drop' });
  const prediction = await clientFor(local.emulator, {
    token: freshToken(),
    waitSeconds: 1,
    timeoutMs: 36_000,
    webhook: hooks.webhook,
  }).run(request);
  expect(prediction.status).toBe('succeeded');
  expect(polls().map((r) => r.outcome)).toEqual([200, 200]);
});

test('a cancel is not sent again once its 30 s are up, however long Replicate asked it to wait', async () => {
  local.plan = { processingMs: 120_000 };
  local.emulator.inject({ route: 'cancel', answer: { status: 503, retryAfter: '31' } });
  const controller = new AbortController();
  const started = Date.now();
  const error = await clientFor(local.emulator, { token: freshToken(), waitSeconds: 1 })
    .run(request, { signal: controller.signal, onCreated: () => controller.abort() })
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BlockError);
  expect((error as BlockError).detail).toMatch(
    /^The run was .+; canceling the prediction failed \(.+\), so Replicate stops it at its Cancel-After deadline$/,
  );
  expect(Date.now() - started).toBeLessThan(scaled(40_000));
  expect(cancels().map((r) => r.outcome)).toEqual([503]);
  const id = /\/predictions\/([a-z2-7]+)\/cancel$/.exec(cancels()[0]!.path)![1]!;
  expect((await remote(local.emulator, id)).status).toBe('processing');
});

import { expect, test } from '@jest/globals';
import { clientFor, requestsTo, useEmulator } from '../helpers.js';

// The create of a run as sent (POST /v1/models/{owner}/{name}/predictions), the polls that follow
// it, and the error a user reads for a failure Replicate gives no reason for.
const local = useEmulator({ startingMs: 10, processingMs: 3_000 });
const SCHNELL = 'black-forest-labs/flux-schnell';

test('the create is sent as JSON, and polls keep their interval while the prediction is young (under 30 s)', async () => {
  // A 1 s sync wait, then about 2 s of polls every 50 ms: some 40 of them on an idle machine, 15
  // or more on a busy one. An interval growing 1.5x from the first poll would make 8 at most.
  await clientFor(local.emulator, { waitSeconds: 1, pollIntervalMs: 50 }).run({
    model: SCHNELL,
    input: { prompt: 'x' },
  });
  const [create] = requestsTo(local.emulator, 'POST', /\/predictions$/);
  expect(create!.headers['content-type']).toBe('application/json');
  expect(requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[^/]+$/).length).toBeGreaterThanOrEqual(15);
});

test('a failed prediction without a reason or a page says so, and asks nothing of a page', async () => {
  local.emulator.inject({ route: 'get', answer: { status: 200, body: { id: 'p1', status: 'failed', error: null } } });
  await expect(clientFor(local.emulator).wait('p1')).rejects.toMatchObject({
    kind: 'model_failed',
    detail: 'Prediction p1 failed, and Replicate gave no reason',
  });
});

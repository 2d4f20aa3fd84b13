import { describe, expect, test } from '@jest/globals';
import { nextPollInterval } from '../../shared/replicate/prediction-run.js';
import { clientFor, creates, freshToken, requestsTo, until, useEmulator } from '../helpers.js';

// Guards against bugs that passed every other test when planted by hand (see docs/testing.md).
const local = useEmulator({ startingMs: 20, processingMs: 100, maxSyncWaitSeconds: 1 });

describe("the client's defaults", () => {
  test('a run with default options asks a 60 s sync wait and a 600 s Cancel-After, then polls every 500 ms', async () => {
    local.plan = { processingMs: 2_400 };
    // Default options but the token and base URL; the emulator grants a 1 s sync wait.
    const started = Date.now();
    const prediction = await clientFor(local.emulator, { pollIntervalMs: undefined, token: freshToken() }).run({
      model: 'black-forest-labs/flux-schnell',
      input: { prompt: 'x' },
    });
    const seconds = (Date.now() - started) / 1000;
    expect(prediction.status).toBe('succeeded');
    const [create] = requestsTo(local.emulator, 'POST', /\/predictions$/);
    expect(create!.headers.prefer).toBe('wait=60');
    expect(create!.headers['cancel-after']).toBe('600s');
    // About (seconds - 1 s of sync wait) / 0.5 s polls: 500 ms, not 20 or 5000.
    const polls = requestsTo(local.emulator, 'GET', /^\/v1\/predictions\//).length;
    expect(polls).toBeGreaterThanOrEqual(Math.floor((seconds - 1) / 0.5) - 1);
    expect(polls).toBeLessThanOrEqual(Math.ceil((seconds - 1) / 0.5) + 1);
  });

  test('the poll schedule: 500 ms for 30 s, then 1.5x per poll, never past the cap', () => {
    expect(nextPollInterval(500, 29_999, 5_000)).toBe(500);
    expect(nextPollInterval(500, 30_000, 5_000)).toBe(750);
    let interval = 500;
    const seen: number[] = [];
    for (let i = 0; i < 10; i++) seen.push((interval = nextPollInterval(interval, 31_000, 5_000)));
    expect(seen).toEqual([750, 1125, 1687.5, 2531.25, 3796.875, 5000, 5000, 5000, 5000, 5000]);
  });
});

test("a lost create's prediction is found by its input too: with two runs of one model in flight, only the lost one is canceled", async () => {
  local.plan = { processingMs: 1_500 };
  // The first create makes its prediction and then loses its answer; the second is answered.
  local.emulator.inject({ route: 'create', answer: 'reset', afterHandling: true });
  const client = clientFor(local.emulator, { token: freshToken(), waitSeconds: 1 });
  const lost = client.run({ model: 'black-forest-labs/flux-schnell', input: { prompt: 'lost', seed: 1 } });
  await until(() => creates(local.emulator).sent > 0);
  const kept = client.run({ model: 'black-forest-labs/flux-schnell', input: { prompt: 'kept', seed: 2 } });
  await expect(lost).rejects.toMatchObject({
    kind: 'unreachable',
    detail: expect.stringMatching(/; prediction [a-z2-7]+ was canceled$/),
  });
  expect((await kept).status).toBe('succeeded');
  const cancels = requestsTo(local.emulator, 'POST', /\/cancel$/);
  expect(cancels).toHaveLength(1);
  expect(creates(local.emulator)).toEqual({ sent: 2, created: 2 });
});

test('408 on a poll is retried', async () => {
  local.plan = { processingMs: 1_300 };
  local.emulator.inject({ route: 'get', answer: { status: 408 } });
  const prediction = await clientFor(local.emulator, { token: freshToken(), waitSeconds: 1 }).run({
    model: 'black-forest-labs/flux-schnell',
    input: { prompt: 'x' },
  });
  expect(prediction.status).toBe('succeeded');
  expect(requestsTo(local.emulator, 'GET', /^\/v1\/predictions\//).map((r) => r.outcome)).toContain(408);
});

import { beforeEach, describe, expect, test } from '@jest/globals';
import { ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import type { RunnerOptions } from '../../index.js';
import {
  abortOnceCreated,
  abortWhen,
  canceledId,
  collect,
  contextFor,
  creates,
  CREDENTIALS,
  errorOf,
  freshToken,
  remote,
  requestsTo,
  scaled,
  useEmulator,
} from '../helpers.js';

const local = useEmulator();
beforeEach(() => {
  // Predictions run long unless a test says otherwise: the run is stopped while they do.
  local.plan = { processingMs: 30_000 };
});

const input = { credentials: CREDENTIALS, prompt: 'a lantern in the fog', seed: 3 };
// Time allowed past the timeout or abort for the cancel round trip.
const MARGIN_MS = scaled(500);

/**
 * The three phases a run can be in when it is stopped, set up on the local.emulator: in the create
 * request (created, but its answer hangs), in a poll request (the GET hangs), and between
 * polls (the prediction runs, the runner sleeps).
 */
const polls = () => requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/);
const createRequests = () => requestsTo(local.emulator, 'POST', /^\/v1\/models\/[^/]+\/[^/]+\/predictions$/);
/** Each phase: its runner options, its set-up, when the run is in it, and a check that it was. */
const PHASES: Array<[string, RunnerOptions, () => void, (createdBefore: number) => boolean, () => void]> = [
  [
    'during create',
    { waitSeconds: 60 },
    () => local.emulator.inject({ route: 'create', answer: 'hang', afterHandling: true }),
    // The prediction exists while its create's answer is still to come.
    (createdBefore) => local.emulator.created > createdBefore,
    () => expect(polls()).toHaveLength(0),
  ],
  [
    'during a poll request',
    { waitSeconds: 1 },
    () => local.emulator.inject({ route: 'get', answer: 'hang', times: 100 }),
    () => polls().some((r) => r.outcome === 'hang'),
    () => expect(polls().map((r) => r.outcome)).toEqual(['hang']),
  ],
  [
    'while the prediction runs, between polls',
    { waitSeconds: 1, pollIntervalMs: 5_000 },
    () => undefined,
    () => createRequests()[0]?.outcome !== undefined,
    () => expect(polls()).toHaveLength(0),
  ],
];

/** Checks the one prediction was created once and canceled by a recorded request; returns its id. */
async function expectCanceled(message: string): Promise<string> {
  const id = canceledId(message);
  expect(creates(local.emulator)).toEqual({ sent: 1, created: 1 });
  expect(requestsTo(local.emulator, 'POST', /\/cancel$/).map((r) => r.path)).toEqual([`/v1/predictions/${id}/cancel`]);
  local.emulator.clearFaults();
  expect((await remote(local.emulator, id)).status).toBe('canceled');
  return id;
}

describe('timeout', () => {
  test.each(PHASES)(
    '%s: error within the timeout, then the prediction is canceled',
    async (_, runner, setUp, _reached, inPhase) => {
      setUp();
      const timeoutMs = 1_500 + (runner.waitSeconds === 1 ? 500 : 0);
      const started = Date.now();
      const message = errorOf(
        await collect(block, input, contextFor(local.emulator, { ...runner, timeoutMs }, undefined, freshToken())),
      );
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(timeoutMs);
      expect(elapsed).toBeLessThan(timeoutMs + MARGIN_MS);
      expect(message).toMatch(
        new RegExp(
          `^The run timed out after ${timeoutMs} ms; prediction [a-z2-7]+ was canceled\\. Raise the runner timeout`,
        ),
      );
      inPhase();
      await expectCanceled(message);
    },
  );

  test('during create, the prediction is found by its input because its id never arrived', async () => {
    local.emulator.inject({ route: 'create', answer: 'hang', afterHandling: true });
    const message = errorOf(await collect(block, input, contextFor(local.emulator, { timeoutMs: 1_000 })));
    await expectCanceled(message);
    expect(requestsTo(local.emulator, 'GET', /^\/v1\/predictions\?created_after=/)).toHaveLength(1);
  });
});

describe('host abort', () => {
  test.each(PHASES)(
    '%s: error right after the abort, then the prediction is canceled',
    async (_, runner, setUp, reached, inPhase) => {
      setUp();
      const createdBefore = local.emulator.created;
      const abort = abortWhen(() => reached(createdBefore));
      const message = errorOf(
        await collect(block, input, contextFor(local.emulator, runner, abort.signal, freshToken())),
      );
      expect(Date.now() - abort.abortedAt()!).toBeLessThan(MARGIN_MS);
      expect(message).toMatch(
        /^The run was stopped by the host; prediction [a-z2-7]+ was canceled\. Nothing to fix in the block/,
      );
      inPhase();
      await expectCanceled(message);
    },
  );

  test('during the sync wait of create (Prefer: wait=60)', async () => {
    const abort = abortOnceCreated(local.emulator);
    const message = errorOf(await collect(block, input, contextFor(local.emulator, {}, abort.signal)));
    expect(local.emulator.requests[0]!.headers.prefer).toBe('wait=60');
    expect(requestsTo(local.emulator, 'GET', /^\/v1\/predictions\?created_after=/)).toHaveLength(1);
    await expectCanceled(message);
  });

  test('an already aborted signal sends nothing', async () => {
    const message = errorOf(await collect(block, input, contextFor(local.emulator, {}, AbortSignal.abort())));
    expect(message).toMatch(/^The run was stopped by the host before it started\./);
    expect(local.emulator.requests).toHaveLength(0);
  });

  test('an abort while the create waits its turn at the rate limit sends no create', async () => {
    const token = freshToken();
    local.emulator.inject({ route: 'create', answer: { status: 429, retryAfter: '20' } });
    // The emulator records its 429 before the client has read it: the abort comes a second later,
    // while the client waits out the 20 s Retry-After (aborted mid-answer, the create might exist).
    let throttledAt: number | undefined;
    const abort = abortWhen(() => {
      if (createRequests()[0]?.outcome === 429) throttledAt ??= Date.now();
      return throttledAt !== undefined && Date.now() - throttledAt > scaled(1_000);
    });
    const message = errorOf(await collect(block, input, contextFor(local.emulator, {}, abort.signal, token)));
    expect(message).toMatch(/^The run was stopped by the host\. /);
    expect(creates(local.emulator)).toEqual({ sent: 1, created: 0 });
    expect(requestsTo(local.emulator, 'POST', /\/cancel$/)).toHaveLength(0);
  });
});

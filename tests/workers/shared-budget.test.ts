import { beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { CreateDeferred, REPLICATE_BUDGET, SharedBudget, tokenKey } from '../../hosts/workers/rate-limit.js';
import { startRedis, type TestRedis } from '../../tools/bench/redis-server.js';
import { own, TOKEN, until } from '../helpers.js';

// The rate limit all workers share, in this process against a real Redis: two SharedBudget
// instances on one Redis are two workers. Budgets are small so windows are seconds long.
let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await own(startRedis(), (started) => started.stop());
  redis = await own(Promise.resolve(new Redis({ path: server.path })), (client) => client.quit().then(() => undefined));
});

/** A signal that never aborts, for turns that are not stopped. */
const NO_ABORT = new AbortController().signal;
let prefixes = 0;
/** Two workers' budgets sharing one Redis prefix of their own (each test starts with fresh windows). */
function workers(budget = { createsPerMinute: 6, othersPerMinute: 30 }) {
  const prefix = `budget-test-${++prefixes}`;
  return { prefix, a: new SharedBudget(redis, budget, prefix), b: new SharedBudget(redis, budget, prefix) };
}

/** The CreateDeferred a create's turn rejects with, and when it was asked. */
async function deferred(turn: Promise<void>): Promise<{ error: CreateDeferred; askedAt: number }> {
  const askedAt = Date.now();
  const error = await turn.then(
    () => {
      throw new Error('the create was let through');
    },
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(CreateDeferred);
  return { error: error as CreateDeferred, askedAt };
}

describe('SharedBudget', () => {
  test("a create past the token's budget is deferred to its window's end on every worker, not sent", async () => {
    const { a, b } = workers(); // 6 creates a minute: 1 per 10 s window
    await a.pacer(TOKEN).turn('create', NO_ABORT);
    const { error, askedAt } = await deferred(b.pacer(TOKEN).turn('create', NO_ABORT));
    expect(error.at).toBeGreaterThan(askedAt);
    expect(error.at).toBeLessThanOrEqual(Date.now() + 10_000);
    expect(error.message).toMatch(/^No prediction create may go out before \d{4}-\d\d-\d\dT.+Z \(shared rate limit\)$/);
    // Another token has a budget of its own.
    await b.pacer(`${TOKEN}-other`).turn('create', NO_ABORT);
  });

  test('creates and other requests are counted apart, under the digest of the token, never the token', async () => {
    const { a, prefix } = workers();
    const pacer = a.pacer(TOKEN);
    await pacer.turn('other', NO_ABORT); // 30 a minute: 1 per 2 s window, used up
    await pacer.turn('create', NO_ABORT); // still free: another lane
    const keys = (await redis.keys(`${prefix}:*`)).sort();
    expect(keys).toEqual([`${prefix}:rl:create:${tokenKey(TOKEN)}`, `${prefix}:rl:other:${tokenKey(TOKEN)}`]);
    expect(keys.join()).not.toContain(TOKEN);
  });

  test('another request past the budget waits for its window on every worker, and an abort ends the wait', async () => {
    const { a, b } = workers(); // 30 other requests a minute: 1 per 2 s window
    const started = Date.now();
    await a.pacer(TOKEN).turn('other', NO_ABORT);
    await b.pacer(TOKEN).turn('other', NO_ABORT);
    // A lower bound only (a busy machine only adds): the first turn opened a 2 s window.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500);
    const controller = new AbortController();
    const waiting = a.pacer(TOKEN).turn('other', controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('a 429 seen by one worker blocks the lane for every worker for its Retry-After', async () => {
    const { a, b, prefix } = workers({ createsPerMinute: 600, othersPerMinute: 3000 });
    a.pacer(TOKEN).throttled('create', 4_500);
    await until(async () => (await redis.exists(`${prefix}:rl:create:${tokenKey(TOKEN)}`)) === 1);
    const { error, askedAt } = await deferred(b.pacer(TOKEN).turn('create', NO_ABORT));
    // Retry-After 4.5 s blocks the lane for 5 s from the 429: bounds with room for a busy machine.
    expect(error.at - askedAt).toBeGreaterThan(2_000);
    expect(error.at - askedAt).toBeLessThanOrEqual(10_000);
  });

  test('a Redis that cannot be reached fails the turn, so no request goes out unpaced', async () => {
    const offline = new Redis({
      path: `${server.path}.missing`,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    try {
      const pacer = new SharedBudget(offline, REPLICATE_BUDGET, 'flux-offline').pacer(TOKEN);
      await expect(pacer.turn('create', NO_ABORT)).rejects.not.toBeInstanceOf(CreateDeferred);
      await expect(pacer.turn('other', NO_ABORT)).rejects.toBeDefined();
    } finally {
      offline.disconnect();
    }
  });
});

import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Pacer } from 'replicate-flux-blocks/shared/replicate/pacer.js';
import type { Lane } from 'replicate-flux-blocks/shared/replicate/rate-gate.js';

/** Requests per minute one API token may send, per lane. */
export interface Budget {
  /** Prediction creates per minute. */
  readonly createsPerMinute: number;
  /** Other requests (polls, cancels, model lookups) per minute. */
  readonly othersPerMinute: number;
}

/**
 * Replicate's documented limits per account (replicate.com/docs/topics/predictions/rate-limits):
 * 600 creates and 3000 other requests per minute. Accounts low on credit get about 6 a minute;
 * their 429s hold every worker back (see {@link SharedBudget}).
 */
export const REPLICATE_BUDGET: Budget = { createsPerMinute: 600, othersPerMinute: 3000 };

/**
 * The fixed window rate-limiter-flexible counts in, for a per-minute budget: `points` per
 * `duration` s. From 30 a minute up, 2 s windows of a thirtieth of the budget (600/min: 20 per
 * 2 s); below, 1 point per window of 60/budget s (6/min: 1 per 10 s). A window opens at its
 * first consume and lasts `duration`, so the rate never exceeds the budget, and any sliding
 * minute holds at most the budget plus one window's points (a burst Replicate allows).
 * Durations are whole seconds, as the library floors them.
 */
export function windowFor(perMinute: number): { points: number; duration: number } {
  if (!Number.isFinite(perMinute) || perMinute < 1)
    throw new Error(`rate limit: ${perMinute} per minute is not a positive number`);
  if (perMinute >= 30) return { points: Math.floor(perMinute / 30), duration: 2 };
  return { points: 1, duration: Math.ceil(60 / perMinute) };
}

/** The rate-limit key of an API token: a SHA-256 digest (hex), so Redis never holds the token. */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Thrown by a job's pacer when a create's turn is later than now: the job is delayed until `at`. */
export class CreateDeferred extends Error {
  constructor(readonly at: number) {
    super(`No prediction create may go out before ${new Date(at).toISOString()} (shared rate limit)`);
  }
}

/**
 * One per-token budget for all workers, counted in Redis by rate-limiter-flexible
 * (`RateLimiterRedis`, keys `<prefix>:rl:create:<sha256 of the token>` and `...:other:...`).
 * A 429 seen by any worker blocks the lane for its `Retry-After` (rounded up to whole seconds)
 * for every worker.
 */
export class SharedBudget {
  private readonly limiters: Record<Lane, RateLimiterRedis>;

  constructor(redis: Redis, budget: Budget, prefix: string) {
    const limiter = (lane: Lane, perMinute: number) =>
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}:rl:${lane}`, ...windowFor(perMinute) });
    this.limiters = {
      create: limiter('create', budget.createsPerMinute),
      other: limiter('other', budget.othersPerMinute),
    };
  }

  /**
   * A pacer for the runs of one job with `token`:
   * - `create`: takes a point now, or rejects with {@link CreateDeferred} (the worker then
   *   delays the job, which frees its slot, instead of waiting);
   * - `other`: takes a point, waiting as long as the budget says (short: 2 s windows);
   * - a 429 blocks the lane for all workers until its `Retry-After` has passed.
   * Redis failures reject (and so fail the run before its request goes out).
   */
  pacer(token: string): Pacer {
    const key = tokenKey(token);
    return {
      turn: async (lane, signal) => {
        for (;;) {
          const refused = await this.limiters[lane].consume(key).then(
            () => undefined,
            (reason: unknown) => {
              if (reason instanceof RateLimiterRes) return reason;
              throw reason;
            },
          );
          if (!refused) return;
          if (lane === 'create') throw new CreateDeferred(Date.now() + refused.msBeforeNext);
          await sleep(refused.msBeforeNext, undefined, { signal });
        }
      },
      throttled: (lane, retryAfterMs) => {
        // Whole seconds, at least 1: the library floors them, and 0 would block forever.
        this.limiters[lane].block(key, Math.max(1, Math.ceil(retryAfterMs / 1000))).catch(() => undefined);
      },
    };
  }
}

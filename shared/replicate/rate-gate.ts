import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Replicate's documented rate limits (replicate.com/docs/topics/predictions/rate-limits): 600
 * prediction creates and 3000 other requests per minute, as the spacing between requests in ms.
 */
const DOCUMENTED_SPACING_MS = { create: 60_000 / 600, other: 60_000 / 3000 } as const;
/** 6 requests per minute: Replicate's limit for accounts with granted credit and no payment method. */
const SLOWEST_SPACING_MS = 10_000;
/** A minute without throttling refills Replicate's burst allowance: pacing stops. */
const CALM_MS = 60_000;

/** Which of Replicate's two limits a request counts against. */
export type Lane = keyof typeof DOCUMENTED_SPACING_MS;

/**
 * Paces one lane of requests of one API token once Replicate has throttled it (429). Until the
 * first 429 requests go straight through. After it, none goes before the `Retry-After` time,
 * and they leave one by one at the documented rate; a 429 to a request sent at that pace
 * doubles the spacing (accounts low on credit get far less), each paced request eases it by
 * 2% back towards the documented rate, and a calm minute ends pacing. Shared by all runs
 * of the token in this process, so hundreds of concurrent runs queue instead of each retrying
 * into the limit.
 */
export class RateGate {
  private blockedUntil = 0;
  private spacing = 0;
  private nextSlot = 0;
  private slowedAt = 0;

  constructor(private readonly documentedSpacing: number) {}

  /**
   * Waits for the next request's turn and returns the time it goes out (epoch ms), to hand
   * back to {@link throttled} if it meets a 429.
   * @param deadline epoch ms after which waiting is pointless: the turn is refused instead.
   * @throws {RateLimitedUntil} when the turn comes after `deadline`; AbortError on `signal`.
   */
  async turn(deadline: number, signal?: AbortSignal): Promise<number> {
    const now = Date.now();
    if (this.spacing && now > this.nextSlot + CALM_MS && now > this.blockedUntil + CALM_MS) this.spacing = 0;
    if (!this.spacing && now >= this.blockedUntil) return now;
    const slot = Math.max(now, this.blockedUntil, this.nextSlot);
    if (slot > deadline) throw new RateLimitedUntil(slot);
    this.nextSlot = slot + this.spacing;
    this.spacing = Math.max(this.documentedSpacing, this.spacing * 0.98);
    if (slot > now) await sleep(slot - now, undefined, { signal });
    return slot;
  }

  /** A request sent at `sentAt` met a 429 that asks to wait `retryAfterMs`. */
  throttled(sentAt: number, retryAfterMs: number): void {
    const now = Date.now();
    this.blockedUntil = Math.max(this.blockedUntil, now + retryAfterMs);
    // Slow down once per round: 429s to requests sent before the last slow-down are old news.
    if (sentAt >= this.slowedAt) {
      this.spacing = this.spacing ? Math.min(this.spacing * 2, SLOWEST_SPACING_MS) : this.documentedSpacing;
      this.slowedAt = now;
    }
  }

  /** True when the gate holds no state worth keeping. */
  idle(now = Date.now()): boolean {
    return !this.spacing && now >= this.blockedUntil;
  }
}

/** Thrown by {@link RateGate.turn} when the next free turn is after the caller's deadline. */
export class RateLimitedUntil extends Error {
  constructor(readonly at: number) {
    super(`rate limited until ${new Date(at).toISOString()}`);
  }
}

/** One token's gates, one per lane. */
export type RateGates = Readonly<Record<Lane, RateGate>>;

const gates = new Map<string, RateGates>();
const MAX_IDLE_KEPT = 256;

/**
 * The gates of an API token at a base URL, shared process-wide. The token is kept only as a
 * SHA-256 digest.
 */
export function gatesFor(baseUrl: string, token: string): RateGates {
  const key = createHash('sha256').update(`${baseUrl}\0${token}`).digest('hex');
  let found = gates.get(key);
  if (!found) {
    if (gates.size >= MAX_IDLE_KEPT) {
      for (const [k, g] of gates) if (g.create.idle() && g.other.idle()) gates.delete(k);
    }
    found = { create: new RateGate(DOCUMENTED_SPACING_MS.create), other: new RateGate(DOCUMENTED_SPACING_MS.other) };
    gates.set(key, found);
  }
  return found;
}

import { createHash } from 'node:crypto';
import type { RateLimits } from './types.js';

/** Which limit a request counts against: prediction creates, or everything else. */
export type Lane = 'create' | 'other';

/**
 * Token buckets per API token, one for creates and one for other requests. Defaults are
 * Replicate's documented limits (600 creates and 3000 other requests per minute); bursts are
 * a sixth of a minute's worth unless given.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly lanes: Record<Lane, { perMs: number; burst: number }>;

  constructor(limits: RateLimits) {
    const creates = limits.createsPerMinute ?? 600;
    const others = limits.othersPerMinute ?? 3000;
    this.lanes = {
      create: { perMs: creates / 60_000, burst: limits.createBurst ?? Math.max(1, Math.round(creates / 6)) },
      other: { perMs: others / 60_000, burst: limits.otherBurst ?? Math.max(1, Math.round(others / 6)) },
    };
  }

  /** Takes a request's token from the bucket: undefined when it may go, else ms until it could. */
  wait(token: string, lane: Lane): number | undefined {
    const { perMs, burst } = this.lanes[lane];
    const key = `${lane}:${createHash('sha256').update(token).digest('hex')}`;
    const now = Date.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return (1 - bucket.tokens) / perMs;
  }
}

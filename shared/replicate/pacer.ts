import type { Lane } from './rate-gate.js';

/**
 * A rate-limit budget shared beyond this process, e.g. by every worker of one API token through
 * Redis (hosts/workers/rate-limit.ts). The client asks it for a turn before each request, on top of
 * its own in-process gate, and tells it of each 429 so every sharer holds back.
 */
export interface Pacer {
  /**
   * Resolves when a request of `lane` (`create`: POST .../predictions; `other`: everything
   * else) may go out. Rejecting stops the request and so the run, before anything is sent.
   */
  turn(lane: Lane, signal: AbortSignal): Promise<void>;
  /** A request of `lane` met a 429 asking to wait `retryAfterMs` (ms). */
  throttled(lane: Lane, retryAfterMs: number): void;
}

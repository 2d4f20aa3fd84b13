import ky, { HTTPError, TimeoutError as KyTimeoutError, type KyInstance, type Options } from 'ky';
import { BlockError } from '../core/errors.js';
import { networkCode } from './api-errors.js';
import type { Pacer } from './pacer.js';
import { gatesFor, RateLimitedUntil } from './rate-gate.js';
import { transport, type TransportOptions } from './transport.js';

/** Bound on one request that is not a sync wait, in ms, so a stalled connection cannot hang a poll. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Retries of one request after 5xx, 408, network errors and timeouts (429s are paced instead). */
const FAULT_RETRIES = 4;
const RETRIED_STATUSES = [408, 500, 502, 503, 504];
const MAX_RETRY_AFTER_MS = 60_000;
const MAX_BACKOFF_MS = 10_000;
/** Wait after a 429 that says nothing about when to come back, in ms; doubled on each further one. */
const DEFAULT_RETRY_AFTER_MS = 1_000;

/** The run a request belongs to: when it must be over, and its timeout to name in errors. */
export interface RunDeadline {
  /** Epoch ms when the run's timeout expires; no rate-limit turn after it is waited for. */
  readonly deadline: number;
  /** The run's timeout in ms. */
  readonly timeoutMs: number;
}

/**
 * How one request is retried: `create` for POST .../predictions, `idempotent` for GET and
 * cancel. See {@link ReplicateHttp.options}.
 */
export type RequestKind = 'create' | 'idempotent';

/**
 * The Replicate API of one client: a ky instance that sends the token, plus per-request retry
 * and pacing options. Requests of one token share its rate gates process-wide.
 */
export class ReplicateHttp {
  readonly ky: KyInstance;
  private readonly gates;
  /** Sent with every request; the API answers JSON. */
  private readonly headers: Readonly<Record<string, string>>;

  /** @param pacer a budget shared with other processes, asked before the token's own gate. */
  constructor(
    baseUrl: string,
    token: string,
    private readonly pacer?: Pacer,
  ) {
    this.gates = gatesFor(baseUrl, token);
    this.headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
    // Headers and timeouts are the transport's (TransportOptions); ky's timeout wraps each
    // attempt in one more promise and timer. Requests that bring their own body (uploads) set it.
    this.ky = ky.create({
      prefixUrl: baseUrl,
      timeout: false,
      fetch: transport as typeof fetch,
    });
  }

  /**
   * ky options (`retry` and a `beforeRequest` hook) for one request; ky runs the loop.
   * - Every attempt first waits its turn at the shared pacer, if any, then at the token's gate (rate-gate.ts). A turn after the
   *   run's deadline fails at once with a `rate_limited` error instead of waiting into the timeout.
   * - 429, both kinds: sent again once `Retry-After` (header in seconds or as an HTTP date, else
   *   the body's `retry_after` in seconds, else 1 s doubling) and the gate's pace allow. No cap
   *   but the deadline.
   * - `idempotent` (GET, cancel): 408, 500, 502, 503, 504, network errors and timeouts, up to 4
   *   retries after `Retry-After` (at most 60 s) or exponential backoff (0.3 s doubling, at most
   *   10 s, full jitter).
   * - `create`: besides 429, only when the connection was refused, so the request provably never
   *   reached the server. A 5xx, reset or timeout after sending may have created a prediction:
   *   sending it again could run and bill it twice.
   * @param run the run's deadline (epoch ms after which no turn is waited for) and timeout.
   *   Cleanup after the run's timeout (cancel) passes a deadline of its own.
   * @param request `signal` stops the request; `headers` are sent besides the token's and
   *   `accept: application/json`; `body` is sent as it is (serialized JSON); `timeoutMs` bounds
   *   the wait for the answer (default 30000); `onAttempt` is called with true as each attempt
   *   goes out, and with false when its answer (a 429) shows it did nothing.
   */
  options(
    kind: RequestKind,
    { deadline, timeoutMs }: RunDeadline,
    {
      signal,
      headers,
      body,
      timeoutMs: requestTimeoutMs = REQUEST_TIMEOUT_MS,
      onAttempt,
    }: {
      signal?: AbortSignal;
      headers?: Readonly<Record<string, string>>;
      body?: string;
      timeoutMs?: number;
      onAttempt?: (mayHaveEffect: boolean) => void;
    } = {},
  ): Options {
    const lane = kind === 'create' ? 'create' : 'other';
    const gate = this.gates[lane];
    let sentAt = 0;
    let faults = 0;
    let throttles = 0;
    let nextDelay = 0;
    const sent: TransportOptions = {
      sentHeaders: headers ? { ...this.headers, ...headers } : this.headers,
      sentBody: body,
      stopSignal: signal,
      timeoutMs: requestTimeoutMs,
    };
    return {
      ...(sent as Options),
      retry: {
        limit: Number.POSITIVE_INFINITY,
        methods: ['get', 'post'],
        delay: () => nextDelay,
        shouldRetry: async ({ error: thrown }) => {
          // ky wraps what is not an Error of its own realm (fetch's errors under jest's VM
          // modules) in a NonError, which it does not export.
          const wrapped = thrown.name === 'NonError' ? (thrown as { value?: unknown }).value : undefined;
          const error = typeof wrapped === 'object' && wrapped !== null ? (wrapped as Error) : thrown;
          if (error instanceof HTTPError && error.response.status === 429) {
            onAttempt?.(false);
            throttles += 1;
            const waitMs = (await retryAfterMs(error.response)) ?? DEFAULT_RETRY_AFTER_MS * 2 ** (throttles - 1);
            gate.throttled(sentAt, waitMs);
            this.pacer?.throttled(lane, waitMs);
            nextDelay = 0; // the wait is at the gate, so queued requests keep their order
            return true;
          }
          if (!retriable(kind, error) || ++faults > FAULT_RETRIES) return false;
          const after = error instanceof HTTPError ? await retryAfterMs(error.response) : undefined;
          nextDelay =
            after !== undefined
              ? Math.min(after, MAX_RETRY_AFTER_MS)
              : Math.random() * Math.min(MAX_BACKOFF_MS, 300 * 2 ** (faults - 1));
          return true;
        },
      },
      hooks: {
        beforeRequest: [
          async (request) => {
            // No await without a pacer: requests keep reaching the gate in the order sent.
            if (this.pacer) await this.pacer.turn(lane, signal ?? request.signal);
            try {
              sentAt = await gate.turn(deadline, signal);
            } catch (error) {
              if (!(error instanceof RateLimitedUntil)) throw error;
              const seconds = Math.ceil((error.at - Date.now()) / 1000);
              throw new BlockError(
                'rate_limited',
                `Replicate is rate limiting this API token: the next request could go out in ${seconds} s, after the run's timeout of ${timeoutMs} ms`,
              );
            }
            onAttempt?.(true);
          },
        ],
      },
    };
  }
}

/** Whether a failure other than 429 may be retried for a request of `kind`. */
function retriable(kind: RequestKind, error: Error): boolean {
  if (kind === 'create') return networkCode(error) === 'ECONNREFUSED';
  if (error instanceof HTTPError) return RETRIED_STATUSES.includes(error.response.status);
  return error instanceof KyTimeoutError || networkCode(error) !== undefined;
}

/** Milliseconds a response asks to wait: `Retry-After` in seconds or as an HTTP date, else the body's `retry_after` in seconds. */
export async function retryAfterMs(response: Response): Promise<number | undefined> {
  const header = response.headers.get('retry-after')?.trim();
  if (header) {
    // Seconds are a delay as given; only a date is measured against the clock (read once: two reads may differ).
    if (/^\d+(\.\d+)?$/.test(header)) return Number(header) * 1000;
    const at = Date.parse(header);
    if (Number.isFinite(at)) return Math.max(0, at - Date.now());
  }
  // Read without cloning: the response is only read here when it is retried, and so discarded.
  const body = (await response.json().catch(() => undefined)) as { retry_after?: unknown } | undefined;
  const seconds = Number(body?.retry_after);
  return body?.retry_after !== undefined && body.retry_after !== null && Number.isFinite(seconds) && seconds >= 0
    ? seconds * 1000
    : undefined;
}

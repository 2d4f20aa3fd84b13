import { HTTPError, type Options } from 'ky';
import { networkCode } from '../replicate/api-errors.js';
import { retryAfterMs } from '../replicate/http.js';
import { readErrorBody } from './api-errors.js';
import { MAX_ERROR_BYTES, readAnswer } from './read-answer.js';

/** Retries of one request whose connection was refused. */
const REFUSED_RETRIES = 4;
/** Retries of one request after 429s that said when to come back. */
const THROTTLE_RETRIES = 8;

/**
 * ky's `retry` options for one image or chat request, all of which may make (and bill) images:
 * - a 429 with a `Retry-After` header (seconds or an HTTP date) is sent again after that wait,
 *   up to 8 times, unless the wait would end after `deadline` (epoch ms) or the body's code is
 *   `insufficient_quota`;
 * - a refused connection (the request provably never reached the server) is sent again up to
 *   4 times, after 0.3 s doubling;
 * - nothing else: not a 5xx, a reset or a timeout, after which the provider may be making the
 *   images already, so a second request could bill twice.
 */
export function retryOptions(deadline: number): Pick<Options, 'retry'> {
  let refused = 0;
  let throttles = 0;
  let nextDelay = 0;
  return {
    retry: {
      limit: Number.POSITIVE_INFINITY,
      methods: ['post'],
      delay: () => nextDelay,
      shouldRetry: async ({ error: thrown }) => {
        // ky wraps what is not an Error of its own realm (fetch's errors under jest's VM modules) in a NonError.
        const wrapped = thrown.name === 'NonError' ? (thrown as { value?: unknown }).value : undefined;
        const error = typeof wrapped === 'object' && wrapped !== null ? (wrapped as Error) : thrown;
        if (error instanceof HTTPError) {
          const { response } = error;
          if (response.status !== 429 || !response.headers.has('retry-after') || ++throttles > THROTTLE_RETRIES)
            return false;
          const { text } = await readAnswer(response.clone(), MAX_ERROR_BYTES).catch(() => ({ text: '' }));
          const body = readErrorBody(text);
          if (body?.code === 'insufficient_quota' || body?.type === 'insufficient_quota') return false;
          const wait = await retryAfterMs(response.clone());
          if (wait === undefined || Date.now() + wait >= deadline) return false;
          nextDelay = wait;
          return true;
        }
        if (networkCode(error) !== 'ECONNREFUSED' || ++refused > REFUSED_RETRIES) return false;
        nextDelay = 300 * 2 ** (refused - 1);
        return true;
      },
    },
  };
}

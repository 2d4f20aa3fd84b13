import { afterEach, expect, jest, test } from '@jest/globals';
import { HTTPError, type RetryOptions } from 'ky';
import { ReplicateHttp } from '../../shared/replicate/http.js';
import type { Lane } from '../../shared/replicate/rate-gate.js';
import { freshToken } from '../helpers.js';

// The retry decisions of one request, read from the options ky is given: whether to retry each
// failure, and how long to wait first. No request is sent; Math.random is stubbed to its top.
afterEach(() => {
  jest.restoreAllMocks();
});

const request = new Request('http://replicate.test/v1/predictions/p1');
const failure = (status: number, headers: Record<string, string> = {}) =>
  new HTTPError(new Response('', { status, headers }), request, {} as never);

/** The retry options of one request of `kind`, and what a pacer was told of 429s. */
function retryOf(kind: 'create' | 'idempotent') {
  const throttled: Array<[Lane, number]> = [];
  const pacer = { turn: async () => {}, throttled: (lane: Lane, ms: number) => void throttled.push([lane, ms]) };
  const http = new ReplicateHttp('http://replicate.test/v1', freshToken(), pacer);
  const retry = http.options(kind, { deadline: Date.now() + 600_000, timeoutMs: 600_000 }).retry as Required<
    Pick<RetryOptions, 'shouldRetry' | 'delay'>
  >;
  const decide = async (error: Error) => [await retry.shouldRetry({ error, retryCount: 1 }), retry.delay(1)] as const;
  return { decide, throttled };
}

test('5xx: four retries with backoff doubling from 300 ms (full jitter, here at its top), then none', async () => {
  jest.spyOn(Math, 'random').mockReturnValue(1);
  const { decide } = retryOf('idempotent');
  expect(await decide(failure(503))).toEqual([true, 300]);
  expect(await decide(failure(502))).toEqual([true, 600]);
  expect(await decide(failure(500))).toEqual([true, 1_200]);
  expect(await decide(failure(504))).toEqual([true, 2_400]);
  expect((await decide(failure(503)))[0]).toBe(false);
});

test('a 5xx that says Retry-After is retried after it, at most 60 s', async () => {
  const { decide } = retryOf('idempotent');
  expect(await decide(failure(503, { 'Retry-After': '2' }))).toEqual([true, 2_000]);
  expect(await decide(failure(503, { 'Retry-After': '120' }))).toEqual([true, 60_000]);
});

test('429s without Retry-After: 1 s, then doubling, told to the shared pacer; no limit on their number', async () => {
  const { decide, throttled } = retryOf('create');
  for (let i = 0; i < 6; i++) expect(await decide(failure(429))).toEqual([true, 0]);
  expect(throttled).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000].map((ms) => ['create', ms]));
});

test('a create is not retried after a 5xx, which may have created the prediction', async () => {
  const { decide } = retryOf('create');
  expect((await decide(failure(503)))[0]).toBe(false);
  expect((await decide(failure(408)))[0]).toBe(false);
});

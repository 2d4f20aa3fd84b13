import { afterEach, describe, expect, jest, test } from '@jest/globals';
import { retryAfterMs } from '../../shared/replicate/http.js';
import { outputUrls, progressPercent, readPrediction } from '../../shared/replicate/prediction-run.js';
import type { Prediction } from '../../shared/replicate/types.js';

// What the client reads from Replicate's answers, as pure functions of the answer.
const BASE = 'http://replicate.test/v1';
afterEach(() => {
  jest.restoreAllMocks();
});

describe('retryAfterMs', () => {
  const answer = (headers: Record<string, string>, body = '') => new Response(body, { status: 429, headers });

  test('Retry-After in whole or decimal seconds', async () => {
    jest.spyOn(Date, 'now').mockReturnValue(1_000_000);
    expect(await retryAfterMs(answer({ 'retry-after': '3' }))).toBe(3_000);
    expect(await retryAfterMs(answer({ 'retry-after': ' 1.5 ' }))).toBe(1_500);
    expect(await retryAfterMs(answer({ 'retry-after': '0' }))).toBe(0);
  });

  test('Retry-After as an HTTP date: the time until then, never negative', async () => {
    const now = Date.parse('Sun, 22 Nov 2026 06:00:00 GMT');
    jest.spyOn(Date, 'now').mockReturnValue(now);
    expect(await retryAfterMs(answer({ 'retry-after': 'Sun, 22 Nov 2026 06:00:07 GMT' }))).toBe(7_000);
    expect(await retryAfterMs(answer({ 'retry-after': 'Sun, 22 Nov 2026 05:59:00 GMT' }))).toBe(0);
  });

  test("without a usable header, the body's retry_after in seconds", async () => {
    expect(await retryAfterMs(answer({}, '{"retry_after": 2}'))).toBe(2_000);
    expect(await retryAfterMs(answer({ 'retry-after': 'soon' }, '{"retry_after": "0.5"}'))).toBe(500);
    expect(await retryAfterMs(answer({ 'retry-after': '2s' }, '{"retry_after": 0}'))).toBe(0);
    expect(await retryAfterMs(answer({ 'retry-after': '4 seconds' }, '{"retry_after": 4}'))).toBe(4_000);
  });

  test('nothing usable: undefined', async () => {
    for (const body of [
      '',
      'not json',
      '{}',
      '{"retry_after": null}',
      '{"retry_after": -1}',
      '{"retry_after": "later"}',
      '{"retry_after": "4s"}',
      'null',
    ]) {
      expect(await retryAfterMs(answer({}, body))).toBeUndefined();
    }
    expect(await retryAfterMs(answer({ 'retry-after': '   ' }))).toBeUndefined();
  });
});

describe('progressPercent', () => {
  test('the last tqdm percentage in the logs, at most 100', () => {
    expect(progressPercent('starting\n 10%|█         | 2/20\n 45%|████▌     | 9/20')).toBe(45);
    expect(progressPercent('100%|██████████| 20/20')).toBe(100);
    expect(progressPercent('999%|')).toBe(100);
    expect(progressPercent('5%|')).toBe(5);
  });

  test('no percentage: undefined', () => {
    expect(progressPercent(undefined)).toBeUndefined();
    expect(progressPercent(null)).toBeUndefined();
    expect(progressPercent('')).toBeUndefined();
    expect(progressPercent('45% done, 9/20')).toBeUndefined();
  });
});

describe('outputUrls', () => {
  const succeeded = (output: unknown): Prediction => ({ id: 'p1', status: 'succeeded', output });

  test('a list of URLs or a single one, empty and non-string items left out', () => {
    expect(outputUrls(succeeded(['https://a/1.webp', '', 7, null, 'https://a/2.webp']))).toEqual([
      'https://a/1.webp',
      'https://a/2.webp',
    ]);
    expect(outputUrls(succeeded('https://a/1.webp'))).toEqual(['https://a/1.webp']);
  });

  test('a success without a URL is model_failed', () => {
    for (const output of [[], [''], null, undefined, '', { url: 'https://a/1.webp' }]) {
      expect(() => outputUrls(succeeded(output))).toThrow(
        expect.objectContaining({ kind: 'model_failed', detail: 'Prediction p1 succeeded but returned no output' }),
      );
    }
  });
});

describe('readPrediction', () => {
  test('a prediction in JSON', async () => {
    const response = new Response(JSON.stringify({ id: 'p1', status: 'starting', extra: 1 }), {
      status: 201,
      headers: { 'content-type': 'application/json' },
    });
    expect(await readPrediction(response, BASE)).toEqual({ id: 'p1', status: 'starting', extra: 1 });
  });

  test('not JSON, or JSON that is not a prediction: bad_response naming the status and content type', async () => {
    await expect(
      readPrediction(new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } }), BASE),
    ).rejects.toMatchObject({
      kind: 'bad_response',
      detail: `The Replicate API at ${BASE} answered 200 (text/html) with something that is not JSON`,
    });
    const noType = new Response(new Blob(['{"id":"p1","status":"sleeping"}']), { status: 201 });
    noType.headers.delete('content-type');
    await expect(readPrediction(noType, BASE)).rejects.toMatchObject({
      kind: 'bad_response',
      detail: expect.stringMatching(
        /^The Replicate API at http:\/\/replicate\.test\/v1 answered 201 \(no content type\) with JSON that is not a prediction \(status: must be one of /,
      ),
    });
  });
});

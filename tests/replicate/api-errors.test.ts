import { describe, expect, test } from '@jest/globals';
import { HTTPError, TimeoutError } from 'ky';
import { BlockError } from '../../shared/core/errors.js';
import { networkCode, neverReached, toBlockError } from '../../shared/replicate/api-errors.js';

// How every failure of a request reads, as pure functions of the failure.
const BASE = 'http://replicate.test/v1';
const request = new Request(`${BASE}/predictions`, { method: 'POST' });

/** A ky HTTPError for an answer with `status` and `body` (JSON unless a string). */
function httpError(status: number, body: unknown, statusText?: string): HTTPError {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new HTTPError(new Response(text, { status, statusText }), request, {} as never);
}

/** A fetch network failure: a TypeError whose cause is the system error. */
const fetchFailure = (cause: object) => new TypeError('fetch failed', { cause });

async function detailOf(error: unknown): Promise<[string, string]> {
  const failure = await toBlockError(error, BASE);
  return [failure.kind, failure.detail];
}

describe('toBlockError: HTTP errors', () => {
  test('a BlockError passes through as it is', async () => {
    const error = new BlockError('canceled', 'x');
    expect(await toBlockError(error, BASE)).toBe(error);
  });

  test.each([
    [400, 'request_rejected'],
    [401, 'unauthorized'],
    [402, 'insufficient_credit'],
    [403, 'unauthorized'],
    [404, 'not_found'],
    [413, 'request_rejected'],
    [422, 'rejected_input'],
    [429, 'rate_limited'],
    [500, 'api_error'],
    [409, 'api_error'],
  ])('status %d is %s', async (status, kind) => {
    expect((await toBlockError(httpError(status, { title: 'T', detail: 'D' }), BASE)).kind).toBe(kind);
  });

  test("the problem's title and detail, without a final period", async () => {
    expect(
      await detailOf(
        httpError(
          402,
          { title: 'Insufficient credit', detail: 'You have run out of credit.', status: 402 },
          'Payment Required',
        ),
      ),
    ).toEqual(['insufficient_credit', 'Replicate API error 402 Insufficient credit: You have run out of credit']);
  });

  test('the status text stands in for a missing title; no detail, no colon', async () => {
    expect(await detailOf(httpError(404, {}, 'Not Found'))).toEqual(['not_found', 'Replicate API error 404 Not Found']);
  });

  test('a detail that lists fields on lines reads as one line', async () => {
    const detail = '- input.prompt: Does not match format\n  - input.seed: Must be an integer  \n\n';
    expect((await detailOf(httpError(422, { title: 'Input validation failed', detail })))[1]).toBe(
      'Replicate API error 422 Input validation failed: prompt: Does not match format; seed: Must be an integer',
    );
  });

  test('invalid_fields name each field without its input. prefix, unless the description names it', async () => {
    const body = {
      title: 'Input validation failed',
      detail: 'ignored when fields are listed',
      invalid_fields: [
        { type: 'required', field: 'input', description: 'prompt is required' },
        { field: 'input.num_inference_steps', description: 'Must be less than or equal to 4' },
        { field: 'input.seed' },
        { description: 'something else is wrong' },
        { type: 'unknown' },
      ],
    };
    expect(await detailOf(httpError(422, body))).toEqual([
      'rejected_input',
      'Replicate API error 422 Input validation failed: input: prompt is required; num_inference_steps: Must be less than or equal to 4; seed; something else is wrong',
    ]);
  });

  test('a field named in its own description is not repeated', async () => {
    const body = {
      title: 'Input validation failed',
      invalid_fields: [{ field: 'input.prompt', description: 'prompt is required' }],
    };
    expect((await detailOf(httpError(422, body)))[1]).toBe(
      'Replicate API error 422 Input validation failed: prompt is required',
    );
  });

  test('a 422 refusing the version is invalid_version, by its title or its detail', async () => {
    expect(
      (await detailOf(httpError(422, { title: 'Invalid version', detail: 'The specified version does not exist' })))[0],
    ).toBe('invalid_version');
    expect(
      (await detailOf(httpError(422, { title: 'Unprocessable', detail: 'Version NOT PERMITTED for this account' })))[0],
    ).toBe('invalid_version');
    // The same words in a field's description are about the input.
    expect(
      (
        await detailOf(
          httpError(422, { title: 'Invalid version', invalid_fields: [{ field: 'input.x', description: 'bad' }] }),
        )
      )[0],
    ).toBe('rejected_input');
    // Only a 422.
    expect((await detailOf(httpError(400, { title: 'Invalid version' })))[0]).toBe('request_rejected');
  });

  test('a body that is not a problem is shown as text, on one line, cut at 200 characters', async () => {
    expect(await detailOf(httpError(502, '<html>\n  Bad   gateway\n</html>', 'Bad Gateway'))).toEqual([
      'api_error',
      'Replicate API error 502 Bad Gateway: <html> Bad gateway </html>',
    ]);
    const long = `${'x'.repeat(150)} ${'y'.repeat(100)}`;
    expect((await detailOf(httpError(500, long, 'Internal Server Error')))[1]).toBe(
      `Replicate API error 500 Internal Server Error: ${long.slice(0, 200)}`,
    );
    expect((await detailOf(httpError(500, { title: 42 }, 'Internal Server Error')))[1]).toBe(
      'Replicate API error 500 Internal Server Error: {"title":42}',
    );
    expect((await detailOf(httpError(503, '  \n ', 'Service Unavailable')))[1]).toBe(
      'Replicate API error 503 Service Unavailable',
    );
    expect((await detailOf(httpError(502, '\n  upstream   down  \n', 'Bad Gateway')))[1]).toBe(
      'Replicate API error 502 Bad Gateway: upstream down',
    );
  });

  test('an answer whose body cannot be read is told by its status alone', async () => {
    const error = httpError(500, 'already read', 'Internal Server Error');
    await error.response.text();
    expect(await detailOf(error)).toEqual(['api_error', 'Replicate API error 500 Internal Server Error']);
  });
});

describe('toBlockError: timeouts, network errors and the rest', () => {
  test("a timeout names the request's method and path", async () => {
    const get = new Request(`${BASE}/predictions/abc?x=1`);
    expect(await detailOf(new TimeoutError(get))).toEqual([
      'unreachable',
      `The Replicate API at ${BASE} did not answer GET /v1/predictions/abc in time`,
    ]);
  });

  test.each([
    ['ECONNREFUSED', 'ECONNREFUSED (connection refused)'],
    ['ENOTFOUND', 'ENOTFOUND (host not found)'],
    ['EAI_AGAIN', 'EAI_AGAIN (DNS lookup failed)'],
  ])('%s never reached the server: nothing was sent', async (code, what) => {
    expect(await detailOf(fetchFailure({ code }))).toEqual([
      'unreachable',
      `The Replicate API at ${BASE} was not reached: ${what}; nothing was sent to it`,
    ]);
  });

  test("fetch refusing the port is told by the cause's message, and nothing was sent", async () => {
    expect(await detailOf(fetchFailure(new Error('bad port')))).toEqual([
      'unreachable',
      `The Replicate API at ${BASE} was not reached: bad port (a port fetch refuses to connect to); nothing was sent to it`,
    ]);
  });

  test.each([
    ['ECONNRESET', 'ECONNRESET (connection reset)'],
    ['UND_ERR_SOCKET', 'UND_ERR_SOCKET (connection closed by the server)'],
    ['ETIMEDOUT', 'ETIMEDOUT (connection timed out)'],
    ['EPIPE', 'EPIPE'],
  ])('%s after connecting may have reached the server', async (code, what) => {
    expect(await detailOf(fetchFailure({ code }))).toEqual([
      'unreachable',
      `The connection to the Replicate API at ${BASE} failed: ${what}`,
    ]);
  });

  test('anything else is internal, with its message', async () => {
    expect(await detailOf(new RangeError('boom'))).toEqual(['internal', 'Unexpected error: boom']);
    expect(await detailOf('a string')).toEqual(['internal', 'Unexpected error: a string']);
    expect(await detailOf(new TypeError('not a network failure'))).toEqual([
      'internal',
      'Unexpected error: not a network failure',
    ]);
  });
});

describe('networkCode and neverReached', () => {
  test("the code of a fetch failure's cause, else its message; nothing for other errors", () => {
    expect(networkCode(fetchFailure({ code: 'ECONNRESET', message: 'socket hang up' }))).toBe('ECONNRESET');
    expect(networkCode(fetchFailure({ code: 7, message: 'bad port' }))).toBe('bad port');
    expect(networkCode(fetchFailure({ code: 7, message: 7 }))).toBeUndefined();
    expect(networkCode(new TypeError('fetch failed'))).toBeUndefined();
    expect(networkCode(Object.assign(new Error('x'), { cause: { code: 'ECONNRESET' } }))).toBeUndefined();
    expect(networkCode(undefined)).toBeUndefined();
  });

  test('only failures that prove the request never left', () => {
    for (const code of ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED'])
      expect(neverReached(fetchFailure({ code }))).toBe(true);
    expect(neverReached(fetchFailure(new Error('bad port')))).toBe(true);
    for (const code of ['ECONNRESET', 'ETIMEDOUT', 'UND_ERR_SOCKET'])
      expect(neverReached(fetchFailure({ code }))).toBe(false);
    expect(neverReached(new Error('ECONNREFUSED'))).toBe(false);
  });
});

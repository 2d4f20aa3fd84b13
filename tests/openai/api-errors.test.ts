import { createServer, type ServerResponse } from 'node:http';
import { describe, expect, test } from '@jest/globals';
import { BlockError, createOpenAiClient, ERROR_KINDS, type ErrorKind } from '../../index.js';
import { listenLocal, OPENAI_KEY, requestsTo, useEmulator } from '../helpers.js';

// What a user reads when an OpenAI-compatible provider fails a request (the detail naming the
// cause, then the kind's advice on what to do), and which failures send the request again: every
// request may make and bill images, so only those that provably made nothing are.

const local = useEmulator();
const client = (baseUrl = local.emulator.url, more: { fetch?: typeof fetch } = {}) =>
  createOpenAiClient({ apiKey: OPENAI_KEY, baseUrl, ...more });
const generate = (baseUrl?: string) => client(baseUrl).generate({ model: 'flux-dev', prompt: 'A red fox' });
const generations = () => requestsTo(local.emulator, 'POST', /^\/v1\/images\/generations$/);

/** Expects `call` to reject with a BlockError of `kind` whose whole message is `detail` then the kind's advice. */
async function expectFailure(call: Promise<unknown>, kind: ErrorKind, detail: string): Promise<void> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BlockError);
  expect([(error as BlockError).kind, (error as BlockError).message]).toEqual([
    kind,
    `${detail}. ${ERROR_KINDS[kind].advice}`,
  ]);
}

type Answer = (res: ServerResponse) => void;

/** A local provider that answers its n-th request with `answers[n]` (the last one again after the end), counting them. */
async function scripted(...answers: Answer[]) {
  const state = { url: '', origin: '', requests: 0 };
  const server = createServer((req, res) => {
    const answer = answers[Math.min(state.requests++, answers.length - 1)]!;
    req.resume();
    req.once('end', () => answer(res));
  });
  state.origin = await listenLocal(server);
  state.url = `${state.origin}/v1`;
  return state;
}

/** An answer with `status`, its `reason` phrase, `headers` and `body`. */
const answer =
  (status: number, body = '', headers: Record<string, string> = {}, reason?: string): Answer =>
  (res) => {
    if (reason === undefined) res.writeHead(status, headers);
    else res.writeHead(status, reason, headers);
    res.end(body);
  };
/** An answer whose body stops after its first bytes: the connection is closed mid-body. */
const cutOff =
  (status: number, headers: Record<string, string> = {}): Answer =>
  (res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.write('{"error": {"message": "The ser', () => res.destroy());
  };
const imagesAnswer = answer(200, JSON.stringify({ created: 1, data: [{ url: 'https://images.example/0.png' }] }), {
  'content-type': 'application/json',
});
const openAiError = (error: Record<string, unknown>) =>
  JSON.stringify({ error: { message: null, type: null, param: null, code: null, ...error } });

describe("the provider's error answer, as the user reads it", () => {
  test('its message is quoted without its last full stop only, and its type labels it when it has no code', async () => {
    local.emulator.inject({
      route: 'images-generate',
      answer: {
        status: 400,
        body: { error: { message: "Invalid 'size'. Use 1024x1024.", type: 'invalid_request_error', code: null } },
      },
    });
    await expectFailure(
      generate(),
      'provider_rejected',
      `The OpenAI-compatible API at ${local.emulator.url} answered 400 invalid_request_error: Invalid 'size'. Use 1024x1024`,
    );
  });

  test('an error body without a message, or an answer with no body and no status text, is named by what it has', async () => {
    local.emulator.inject({
      route: 'images-generate',
      answer: { status: 400, body: { error: { message: null, type: 'invalid_request_error' } } },
    });
    await expectFailure(
      generate(),
      'provider_rejected',
      `The OpenAI-compatible API at ${local.emulator.url} answered 400 invalid_request_error`,
    );
    const bare = await scripted(answer(599, '', {}, ''));
    await expectFailure(generate(bare.url), 'provider_error', `The OpenAI-compatible API at ${bare.url} answered 599`);
  });

  test('an error answer cut off mid-body: its status and status text, sent once', async () => {
    const server = await scripted(cutOff(500));
    await expectFailure(
      generate(server.url),
      'provider_error',
      `The OpenAI-compatible API at ${server.url} answered 500 Internal Server Error`,
    );
    expect(server.requests).toBe(1);
  });

  test('an account out of credit told by its type alone: provider_quota, not sent again despite Retry-After', async () => {
    local.emulator.inject({
      route: 'images-generate',
      answer: {
        status: 429,
        retryAfter: '0',
        body: { error: { message: 'You exceeded your current quota.', type: 'insufficient_quota', code: null } },
      },
    });
    await expectFailure(
      generate(),
      'provider_quota',
      `The OpenAI-compatible API at ${local.emulator.url} answered 429 insufficient_quota: You exceeded your current quota`,
    );
    expect(generations()).toHaveLength(1);
  });

  test('a 204 with no body: provider_error saying the answer is not JSON', async () => {
    const server = await scripted(answer(204));
    await expectFailure(
      generate(server.url),
      'provider_error',
      `The OpenAI-compatible API at ${server.url} answered POST /images/generations with something that is not JSON: ""`,
    );
  });
});

describe('redirects are answers, never followed', () => {
  test('a 300 with a Location names the origin it points to; a 304 without one names none', async () => {
    const elsewhere = await scripted(imagesAnswer);
    const choices = await scripted(answer(300, '', { location: `${elsewhere.url}/images/generations?secret=1` }));
    const advice =
      "which is not followed: the key and the request go to base_url's origin only. Set base_url to where the provider answers";
    await expectFailure(
      generate(choices.url),
      'provider_error',
      `The OpenAI-compatible API at ${choices.url} answered 300 with a redirect to ${elsewhere.origin}, ${advice}`,
    );
    const notModified = await scripted(answer(304));
    await expectFailure(
      generate(notModified.url),
      'provider_error',
      `The OpenAI-compatible API at ${notModified.url} answered 304 with a redirect, ${advice}`,
    );
    expect([choices.requests, notModified.requests, elsewhere.requests]).toEqual([1, 1, 0]);
  });
});

describe('which failures send the request again', () => {
  test('a 429 whose Retry-After is not a time is not sent again: rate_limited', async () => {
    local.emulator.inject({ route: 'images-generate', answer: { status: 429, retryAfter: 'soon' } });
    await expectFailure(
      generate(),
      'rate_limited',
      `The OpenAI-compatible API at ${local.emulator.url} answered 429 invalid_request_error: Too Many Requests: injected fault, status 429`,
    );
    expect(generations()).toHaveLength(1);
  });

  test('a 429 with Retry-After is sent again whatever its body: text, or cut off', async () => {
    const server = await scripted(
      answer(429, 'Slow down', { 'retry-after': '0', 'content-type': 'text/plain' }),
      cutOff(429, { 'retry-after': '0' }),
      imagesAnswer,
    );
    expect(await generate(server.url)).toEqual([{ url: 'https://images.example/0.png', revisedPrompt: undefined }]);
    expect(server.requests).toBe(3);
  });

  test('429s with Retry-After are sent again 8 times at most, then rate_limited', async () => {
    const limited = answer(
      429,
      openAiError({ message: 'Rate limit reached.', type: 'requests', code: 'rate_limit_exceeded' }),
      { 'retry-after': '0', 'content-type': 'application/json' },
    );
    const server = await scripted(...Array<Answer>(10).fill(limited), imagesAnswer);
    await expectFailure(
      generate(server.url),
      'rate_limited',
      `The OpenAI-compatible API at ${server.url} answered 429 rate_limit_exceeded: Rate limit reached`,
    );
    expect(server.requests).toBe(9);
  });

  test('a refused connection is tried 5 times in all, 0.3 s apart doubling, then unreachable naming the cause', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const baseUrl = `http://127.0.0.1:${port}/v1`;
    const sent: number[] = [];
    const counting: typeof fetch = (request, init) => {
      sent.push(Date.now());
      return fetch(request, init);
    };
    await expectFailure(
      client(baseUrl, { fetch: counting }).generate({ model: 'flux-dev', prompt: 'x' }),
      'unreachable',
      `The connection to the OpenAI-compatible API at ${baseUrl} failed: ECONNREFUSED`,
    );
    const waits = sent.slice(1).map((at, i) => at - sent[i]!);
    expect(waits).toHaveLength(4);
    // Timers never fire early (allowing a clock tick); each wait is below the next one's start.
    [300, 600, 1200, 2400].forEach((ms, i) => {
      expect(waits[i]).toBeGreaterThanOrEqual(ms - 2);
    });
    expect(waits[0]).toBeLessThan(1200);
  });
});

import { createServer } from 'node:net';
import { describe, expect, test } from '@jest/globals';
import { OpenAICompatibleFluxImageBlock as block } from '../../blocks/index.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { BlockError, createOpenAiClient, ERROR_KINDS, type ErrorKind } from '../../index.js';
import { EXAMPLE_IMAGE } from '../../sdk.js';
import { collect, contextFor, errorOf, names, OPENAI_KEY, requestsTo, useEmulator } from '../helpers.js';

const local = useEmulator();
const credentials = { provider: 'openai_compatible', id: 'test-key', type: 'api_key' } as const;
const input = (fields: Record<string, unknown> = {}) => ({
  credentials,
  base_url: local.emulator.url,
  prompt: 'A red fox',
  ...fields,
});
const generations = () => requestsTo(local.emulator, 'POST', /^\/v1\/images\/generations$/);
const client = (options: { timeoutMs?: number; baseUrl?: string } = {}) =>
  createOpenAiClient({ apiKey: OPENAI_KEY, baseUrl: local.emulator.url, ...options });

/** The kind and message of the BlockError a call rejects with. */
async function failure(call: Promise<unknown>): Promise<{ kind: ErrorKind; message: string }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BlockError);
  return { kind: (error as BlockError).kind, message: (error as BlockError).message };
}

describe('OpenAI-style error bodies as error kinds', () => {
  test('401 from a provider that takes another key: provider_unauthorized, with its message and the advice', async () => {
    const strict = await startEmulator({ token: 'the-only-valid-key-0000' });
    try {
      const message = errorOf(await collect(block, input({ base_url: strict.url }), contextFor(strict)));
      expect(message).toMatch(
        /^The OpenAI-compatible API at http:\/\/127\.0\.0\.1:\d+\/v1 answered 401 invalid_api_key: Incorrect API key provided: sk-\*\*\*cdef\. /,
      );
      expect(message.endsWith(ERROR_KINDS.provider_unauthorized.advice)).toBe(true);
    } finally {
      await strict.close();
    }
  });

  test('400 naming a param: provider_rejected with the param', async () => {
    const { kind, message } = await failure(client().generate({ model: 'flux-dev', prompt: 'x', size: '16x16' }));
    expect(kind).toBe('provider_rejected');
    expect(message).toContain("answered 400 invalid_request_error (param: size): Invalid 'size'");
  });

  test('an unknown model: 404 model_not_found, provider_rejected', async () => {
    const message = errorOf(await collect(block, input({ model: 'flux-nope' }), contextFor(local.emulator)));
    expect(message).toContain('answered 404 model_not_found (param: model): The model `flux-nope` does not exist');
    expect(message.endsWith(ERROR_KINDS.provider_rejected.advice)).toBe(true);
  });

  test.each([
    ['content_policy_violation', 400, 'safety_filter'],
    ['insufficient_quota', 429, 'provider_quota'],
    ['billing_hard_limit_reached', 400, 'provider_quota'],
  ] as const)('code %s: %s', async (code, status, kind) => {
    local.emulator.inject({
      route: 'images-generate',
      answer: {
        status,
        retryAfter: '1',
        body: { error: { message: 'Refused.', type: 'invalid_request_error', param: null, code } },
      },
    });
    expect((await failure(client().generate({ model: 'flux-dev', prompt: 'x' }))).kind).toBe(kind);
    expect(generations()).toHaveLength(1);
  });

  test("an account out of credit: the emulator's 429 insufficient_quota is provider_quota, never retried", async () => {
    const broke = await startEmulator({ insufficientCredit: true });
    try {
      const { kind, message } = await failure(
        client({ baseUrl: broke.url }).generate({ model: 'flux-dev', prompt: 'x' }),
      );
      expect(kind).toBe('provider_quota');
      expect(message).toContain('answered 429 insufficient_quota: You exceeded your current quota');
      expect(broke.requests).toHaveLength(1);
    } finally {
      await broke.close();
    }
  });

  test('an answer that is not JSON: provider_error quoting its start', async () => {
    local.emulator.inject({ route: 'images-generate', answer: { status: 200, body: '<html>Login</html>' } });
    const { kind, message } = await failure(client().generate({ model: 'flux-dev', prompt: 'x' }));
    expect([kind, message]).toEqual([
      'provider_error',
      expect.stringContaining('with something that is not JSON: "<html>Login</html>"'),
    ]);
  });

  test('an images answer without images: no_image', async () => {
    local.emulator.inject({ route: 'images-generate', answer: { status: 200, body: { created: 1, data: [] } } });
    expect((await failure(client().generate({ model: 'flux-dev', prompt: 'x' }))).kind).toBe('no_image');
  });

  test('a chat answer with no image link: no_image quoting the start of the text', async () => {
    const text = 'I cannot draw that, but here is a poem about foxes. '.repeat(10);
    local.emulator.inject({
      route: 'chat',
      answer: { status: 200, body: { choices: [{ message: { role: 'assistant', content: text } }] } },
    });
    const message = errorOf(await collect(block, input({ api: 'chat' }), contextFor(local.emulator)));
    expect(message).toMatch(
      /^The chat answer holds no image link \(markdown image or URL\): "I cannot draw that, but here is a poem about foxes\. I cannot.{100,}…"\. /,
    );
  });
});

describe('retries only where they cannot bill twice', () => {
  test('a 429 with Retry-After is sent again after the wait, and succeeds', async () => {
    local.emulator.inject({ route: 'images-generate', answer: { status: 429, retryAfter: '1' } });
    const started = Date.now();
    const outputs = await collect(block, input(), contextFor(local.emulator));
    expect(names(outputs)).toEqual(['result']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(generations().map((r) => r.outcome)).toEqual([429, 200]);
  });

  test("the emulator's rate limits answer OpenAI's 429 with Retry-After, which the client waits out", async () => {
    const limited = await startEmulator({ rateLimits: { createsPerMinute: 60, createBurst: 1 } });
    try {
      const limitedClient = client({ baseUrl: limited.url });
      const answers = await Promise.all(
        [0, 1].map(() => limitedClient.generate({ model: 'flux-schnell', prompt: 'x' })),
      );
      expect(answers.map((images) => images.length)).toEqual([1, 1]);
      expect(limited.throttled).toBeGreaterThanOrEqual(1);
      // The bucket is empty now: the next request gets OpenAI's 429 as it is.
      const response = await fetch(`${limited.url}/images/generations`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${OPENAI_KEY}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: 'flux-dev', prompt: 'x' }),
      });
      expect(response.status).toBe(429);
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await response.json()).toEqual({
        error: {
          message: expect.stringMatching(/^Rate limit reached/),
          type: 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      });
    } finally {
      await limited.close();
    }
  });

  test('an edit sent again after a 429 carries its image parts again', async () => {
    local.emulator.inject({ route: 'images-edit', answer: { status: 429, retryAfter: '1' } });
    const outputs = await collect(
      block,
      input({ model: 'flux-kontext-pro', images: [EXAMPLE_IMAGE, EXAMPLE_IMAGE] }),
      contextFor(local.emulator),
    );
    expect(names(outputs)).toEqual(['result']);
    const edits = requestsTo(local.emulator, 'POST', /^\/v1\/images\/edits$/);
    expect(edits.map((r) => r.outcome)).toEqual([429, 200]);
    expect(edits[1]!.body).toEqual(edits[0]!.body);
    expect((edits[1]!.body as { image: unknown[] }).image).toHaveLength(2);
  });

  test('a 429 without Retry-After is not sent again: rate_limited', async () => {
    local.emulator.inject({ route: 'images-generate', answer: { status: 429 } });
    const { kind } = await failure(client().generate({ model: 'flux-dev', prompt: 'x' }));
    expect(kind).toBe('rate_limited');
    expect(generations()).toHaveLength(1);
  });

  test('a 429 asking to wait past the timeout is not waited for', async () => {
    local.emulator.inject({ route: 'images-generate', answer: { status: 429, retryAfter: '30' } });
    const started = Date.now();
    expect((await failure(client({ timeoutMs: 5000 }).generate({ model: 'flux-dev', prompt: 'x' }))).kind).toBe(
      'rate_limited',
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(generations()).toHaveLength(1);
  });

  test.each(['images-generate', 'images-edit', 'chat'] as const)(
    '%s: a 500 is never sent again (it may be billed): provider_error',
    async (route) => {
      local.emulator.inject({ route, answer: { status: 500 }, afterHandling: true });
      const call =
        route === 'chat'
          ? client().chat({ model: 'flux-dev', content: 'x' })
          : route === 'images-edit'
            ? client().edit({
                model: 'flux-kontext-pro',
                prompt: 'x',
                images: [{ blob: new Blob([Buffer.from('x')]), filename: 'a.png' }],
              })
            : client().generate({ model: 'flux-dev', prompt: 'x' });
      const { kind, message } = await failure(call);
      expect(kind).toBe('provider_error');
      expect(message).toContain('answered 500 server_error: Internal Server Error: injected fault, status 500');
      expect(local.emulator.requests).toHaveLength(1);
    },
  );

  test('a reset after the request was handled is never sent again: unreachable', async () => {
    local.emulator.inject({ route: 'images-generate', answer: 'reset', afterHandling: true });
    const { kind } = await failure(client().generate({ model: 'flux-dev', prompt: 'x' }));
    expect(kind).toBe('unreachable');
    expect(generations().map((r) => [r.handledAs, r.outcome])).toEqual([[200, 'reset']]);
  });

  test('a refused connection is sent again until the server is up', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const late = new Promise<Emulator>((resolve) => setTimeout(() => resolve(startEmulator({ port })), 150));
    const images = await client({ baseUrl: `http://127.0.0.1:${port}/v1` }).generate({
      model: 'flux-dev',
      prompt: 'x',
    });
    const server = await late;
    try {
      expect(images).toHaveLength(1);
      expect(server.requests).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe('timeout and abort', () => {
  test('the whole call is bounded by the timeout; the message says the provider may still bill', async () => {
    local.emulator.inject({ route: 'images-generate', answer: 'hang' });
    const started = Date.now();
    const message = errorOf(await collect(block, input(), { ...contextFor(local.emulator, { timeoutMs: 300 }) }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(message).toBe(
      `The run timed out after 300 ms. The request was abandoned; this API has no cancel, so the provider may still make and bill the images. ${ERROR_KINDS.timed_out.advice}`,
    );
    expect(generations()).toHaveLength(1);
  });

  test("the host's abort stops the call: host_aborted", async () => {
    local.emulator.inject({ route: 'images-edit', answer: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const { kind } = await failure(
      client().edit(
        { model: 'flux-kontext-pro', prompt: 'x', images: [{ blob: new Blob([Buffer.from('x')]), filename: 'a.png' }] },
        { signal: controller.signal },
      ),
    );
    expect(kind).toBe('host_aborted');
  });

  test('an abort before the start sends nothing', async () => {
    const { kind } = await failure(
      client().generate({ model: 'flux-dev', prompt: 'x' }, { signal: AbortSignal.abort() }),
    );
    expect(kind).toBe('host_aborted');
    expect(local.emulator.requests).toEqual([]);
  });
});

import { lookup } from 'node:dns';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { describe, expect, test } from '@jest/globals';
import { OpenAICompatibleFluxImageBlock as block } from '../../blocks/index.js';
import { openEnvironment, withCredentials } from '../../hosts/environment/environment.js';
import { BlockError, createOpenAiClient, createReplicateClient, type BlockContext } from '../../index.js';
import { EXAMPLE_IMAGE } from '../../sdk.js';
import { checkedFetchWith } from '../../shared/image/public-fetch.js';
import { collect, errorOf, listenLocal, names, OPENAI_KEY, requestsTo, TOKEN, useEmulator } from '../helpers.js';

// The OpenAI-compatible key goes where the operator says, not where a graph or an agent says:
// base_url is an input. Every test counts the requests a local server received.

const local = useEmulator();
const credentials = { provider: 'openai_compatible', id: 'test-key', type: 'api_key' } as const;
const emulatorOrigin = () => new URL(local.emulator.url).origin;

/** A library context with the key and, when given, the origins it may go to. */
const withKey = (origins?: string[]): BlockContext => ({
  credentials: {
    keys: { openai_compatible: OPENAI_KEY },
    ...(origins && { origins: { openai_compatible: origins } }),
  },
});

/** A local HTTP server on 127.0.0.1 that records each request and answers with `answer`. */
interface Local {
  readonly url: string;
  readonly origin: string;
  readonly requests: string[];
}

async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void = answerImages): Promise<Local> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.once('end', () => answer(req, res));
  });
  const origin = await listenLocal(server);
  return { url: `${origin}/v1`, origin, requests };
}

/** An OpenAI images answer with one link. */
function answerImages(_: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ created: 1, data: [{ url: 'https://images.example/out-0.png' }] }));
}

const HOW_TO_ALLOW = [
  'OPENAI_COMPATIBLE_ORIGINS',
  '--openai-compatible-origins',
  'context.credentials.origins.openai_compatible',
];

describe('default deny: the key goes only to origins the host lists', () => {
  test('with a key and no origins listed, a base_url gets no request (nor its images) and an error saying how to allow it', async () => {
    const server = await serve();
    for (const extra of [{}, { model: 'flux-kontext-pro', images: [`${server.origin}/ref.png`] }, { api: 'chat' }]) {
      const message = errorOf(
        await collect(block, { credentials, base_url: server.url, prompt: 'x', ...extra }, withKey()),
      );
      expect(message).toMatch(
        new RegExp(
          `^base_url: the host sends its openai_compatible key to no origin yet, not to ${server.origin}, so nothing was sent\\.`,
        ),
      );
      for (const words of HOW_TO_ALLOW) expect(message).toContain(words);
    }
    expect(server.requests).toEqual([]);
  });

  test('through the host environment: OPENAI_COMPATIBLE_API_KEY set and OPENAI_COMPATIBLE_ORIGINS unset sends the key nowhere', async () => {
    const server = await serve();
    const environment = await openEnvironment(
      { baseUrl: local.emulator.url },
      { REPLICATE_API_TOKEN: TOKEN, OPENAI_COMPATIBLE_API_KEY: OPENAI_KEY },
    );
    try {
      const input = withCredentials(block, { base_url: server.url, prompt: 'x' });
      const message = errorOf(await collect(block, input, environment.context));
      for (const words of HOW_TO_ALLOW) expect(message).toContain(words);
      expect(server.requests).toEqual([]);
    } finally {
      await environment.close();
    }
  });

  test('a listed origin gets the request (an entry with a path counts as its origin); another, unlisted, gets none', async () => {
    const other = await serve();
    const context = withKey([`${emulatorOrigin()}/v1`]);
    const input = { credentials, base_url: local.emulator.url, prompt: 'x' };
    expect(names(await collect(block, input, context))).toEqual(['result']);
    expect(requestsTo(local.emulator, 'POST', /^\/v1\/images\/generations$/)).toHaveLength(1);
    const message = errorOf(await collect(block, { ...input, base_url: other.url }, context));
    expect(message).toContain(`key only to ${emulatorOrigin()}, not to ${other.origin}`);
    expect(other.requests).toEqual([]);
  });

  test('the embedded emulator is allowed by the host that starts it, and only it', async () => {
    const server = await serve();
    const environment = await openEnvironment({}, { OPENAI_COMPATIBLE_API_KEY: OPENAI_KEY });
    try {
      const embedded = environment.embedded!.url;
      expect(environment.context.credentials?.origins).toEqual({ openai_compatible: [new URL(embedded).origin] });
      const run = (base_url: string) =>
        collect(block, withCredentials(block, { base_url, prompt: 'x' }), environment.context);
      expect(names(await run(embedded))).toEqual(['result']);
      expect(errorOf(await run(server.url))).toContain('OPENAI_COMPATIBLE_ORIGINS');
      expect(server.requests).toEqual([]);
    } finally {
      await environment.close();
    }
  });
});

describe('private, loopback and link-local addresses', () => {
  test('with *, any public origin is allowed, but not a private address unless its origin is listed; the name is checked where it connects', async () => {
    const server = await serve();
    const port = new URL(server.origin).port;
    for (const base_url of [
      server.url,
      `http://localhost:${port}/v1`,
      'http://169.254.169.254/v1',
      'http://[::1]:9/v1',
    ]) {
      const message = errorOf(await collect(block, { credentials, base_url, prompt: 'x' }, withKey(['*'])));
      expect(message).toMatch(
        /^base_url: http:\/\/\S+ is or resolves to \S+, a private, loopback or link-local address, which \* does not allow, so nothing was sent\./,
      );
      for (const words of HOW_TO_ALLOW) expect(message).toContain(words);
    }
    expect(server.requests).toEqual([]);
    // Listed as itself, the loopback origin is trusted.
    const outputs = await collect(
      block,
      { credentials, base_url: server.url, prompt: 'x' },
      withKey(['*', server.origin]),
    );
    expect(names(outputs)).toEqual(['result']);
    expect(server.requests).toEqual(['POST /v1/images/generations']);
  });

  test('the checked transport sends JSON and multipart requests and reads answers as fetch does (checks relaxed to reach the emulator)', async () => {
    const client = createOpenAiClient({
      apiKey: OPENAI_KEY,
      baseUrl: local.emulator.url,
      fetch: checkedFetchWith(lookup, () => false),
    });
    const png = Buffer.from(EXAMPLE_IMAGE.split(',')[1]!, 'base64');
    expect(await client.generate({ model: 'flux-dev', prompt: 'x', n: 2 })).toHaveLength(2);
    expect(
      await client.edit({
        model: 'flux-kontext-pro',
        prompt: 'x',
        response_format: 'b64_json',
        images: [{ blob: new Blob([png], { type: 'image/png' }), filename: 'image-1.png' }],
      }),
    ).toEqual([{ url: expect.stringMatching(/^data:image\/png;base64,/) }]);
    expect(await client.chat({ model: 'flux-dev', content: 'x' })).toHaveLength(1);
    const [edit] = requestsTo(local.emulator, 'POST', /^\/v1\/images\/edits$/);
    expect((edit!.body as { image: unknown }).image).toEqual([
      { filename: 'image-1.png', type: 'image/png', bytes: png.length },
    ]);
  });

  test('the checked transport refuses what its lookup refuses, before sending', async () => {
    const server = await serve();
    const refusing = ((hostname: string, _: unknown, callback: (error: Error) => void) =>
      callback(
        Object.assign(new Error(`${hostname} resolves to 10.0.0.5`), { code: 'EPRIVATE', address: '10.0.0.5' }),
      )) as never;
    const client = createOpenAiClient({
      apiKey: OPENAI_KEY,
      baseUrl: `http://localhost:${new URL(server.origin).port}/v1`,
      fetch: checkedFetchWith(refusing, () => false),
    });
    const error = await client.generate({ model: 'flux-dev', prompt: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlockError);
    expect((error as BlockError).message).toContain('10.0.0.5');
    expect(server.requests).toEqual([]);
  });
});

describe('redirects', () => {
  test.each([302, 307, 308])(
    'a %i from a listed origin to another origin is not followed: the other origin sees nothing',
    async (status) => {
      const elsewhere = await serve();
      const listed = await serve((_, res) => {
        res.writeHead(status, { location: `${elsewhere.url}/images/generations?secret=1` });
        res.end();
      });
      const message = errorOf(
        await collect(block, { credentials, base_url: listed.url, prompt: 'x' }, withKey([listed.origin])),
      );
      expect(message).toContain(
        `answered ${status} with a redirect to ${elsewhere.origin}, which is not followed: the key and the request go to base_url's origin only.`,
      );
      expect(message).not.toContain('secret=1');
      expect(listed.requests).toEqual(['POST /v1/images/generations']);
      expect(elsewhere.requests).toEqual([]);
    },
  );

  test('the checked transport follows none either', async () => {
    const elsewhere = await serve();
    const listed = await serve((_, res) => {
      res.writeHead(307, { location: `${elsewhere.url}/images/generations` });
      res.end();
    });
    const client = createOpenAiClient({
      apiKey: OPENAI_KEY,
      baseUrl: listed.url,
      fetch: checkedFetchWith(lookup, () => false),
    });
    const error = await client.generate({ model: 'flux-dev', prompt: 'x' }).catch((e: unknown) => e);
    expect((error as BlockError).message).toContain(`answered 307 with a redirect to ${elsewhere.origin}`);
    expect(elsewhere.requests).toEqual([]);
  });
});

test('a long answer that is not the expected one is quoted in excerpts of at most 200 characters, never whole', async () => {
  const long = (letter: string) => `${letter.repeat(5000)} db_password=hunter2`;
  const answers: Array<[number, string, Record<string, unknown>?]> = [
    // An HTML error page, as a proxy or an internal service answers.
    [502, `<html><body>${long('x')}</body></html>`],
    // An error in OpenAI's shape whose fields carry a relayed answer.
    [500, JSON.stringify({ error: { message: long('y'), type: 'z'.repeat(500), param: 'p'.repeat(500) } })],
    // Something that is not JSON.
    [200, long('w')],
    // A chat answer without an image link.
    [200, JSON.stringify({ choices: [{ message: { content: long('v') } }] }), { api: 'chat' }],
  ];
  for (const [status, body, extra = {}] of answers) {
    const server = await serve((_, res) => {
      res.writeHead(status, { 'content-type': body.startsWith('{') ? 'application/json' : 'text/html' });
      res.end(body);
    });
    const message = errorOf(
      await collect(block, { credentials, base_url: server.url, prompt: 'x', ...extra }, withKey([server.origin])),
    );
    expect(message).not.toContain('hunter2');
    const runs = message.match(/([vwxyzp])\1{20,}/g) ?? [];
    expect(runs.length).toBeGreaterThan(0);
    expect(Math.max(...runs.map((run) => run.length))).toBeLessThanOrEqual(200);
  }
});

describe('credentials in a base URL', () => {
  test('base_url with user:pass@ is an input error that does not echo the password, and nothing is sent', async () => {
    const server = await serve();
    const base_url = `http://user:hunter2@127.0.0.1:${new URL(server.origin).port}/v1`;
    const message = errorOf(await collect(block, { credentials, base_url, prompt: 'x' }, withKey([server.origin])));
    expect(message).toContain('base_url: must not hold a user name or password');
    expect(message).not.toContain('hunter2');
    expect(server.requests).toEqual([]);
  });

  test.each([
    [
      'createReplicateClient',
      () => createReplicateClient({ token: TOKEN, baseUrl: 'https://user:hunter2@proxy.example/v1' }),
    ],
    [
      'createOpenAiClient',
      () => createOpenAiClient({ apiKey: OPENAI_KEY, baseUrl: 'https://user:hunter2@api.example/v1' }),
    ],
  ])('%s refuses a base URL with user:pass@, without echoing it', (_, create) => {
    let error: unknown;
    try {
      create();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BlockError);
    expect((error as BlockError).kind).toBe('invalid_input');
    expect((error as BlockError).message).toContain('must not hold a user name or password');
    expect((error as BlockError).message).not.toContain('hunter2');
  });

  test.each([
    ['REPLICATE_BASE_URL', { REPLICATE_BASE_URL: 'http://user:hunter2@127.0.0.1:1/v1' }],
    [
      'OPENAI_COMPATIBLE_ORIGINS',
      { OPENAI_COMPATIBLE_ORIGINS: 'https://ok.example, https://user:hunter2@api.example' },
    ],
  ])('the host environment refuses %s with user:pass@ as a usage error, before anything starts', async (name, env) => {
    const error = await openEnvironment({}, env).then(
      async (environment) => {
        await environment.close();
        return undefined;
      },
      (e: unknown) => e as Error & { code?: string },
    );
    expect(error?.code).toMatch(/^ERR_PARSE_ARGS/);
    expect(error?.message).toContain(name);
    expect(error?.message).toContain('must not hold a user name or password');
    expect(error?.message).not.toContain('hunter2');
  });
});

import { getEventListeners } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import { describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { BlockError, createOpenAiClient, type ErrorKind, type OpenAiClientOptions } from '../../index.js';
import { EXAMPLE_IMAGE } from '../../sdk.js';
import { MAX_ANSWER_BYTES } from '../../shared/openai/read-answer.js';
import { FAST, listenLocal, OPENAI_KEY, requestsTo, scaled, until, useEmulator } from '../helpers.js';

// The OpenAI-compatible client on its own, in this process, against the emulator's /v1 routes
// (which take only OPENAI_KEY here) or a small local server: what it refuses before sending, how
// it reads the answers aggregators give, and what a stopped call says.

const local = useEmulator({ ...FAST, token: OPENAI_KEY });
const client = (options: Partial<OpenAiClientOptions> = {}) =>
  createOpenAiClient({ apiKey: OPENAI_KEY, baseUrl: local.emulator.url, ...options });
const generate = { model: 'flux-dev', prompt: 'A red fox' } as const;
const edit = {
  model: 'flux-kontext-pro',
  prompt: 'Add glasses',
  images: [{ blob: new Blob([Buffer.from(EXAMPLE_IMAGE.split(',')[1]!, 'base64')]), filename: 'image-1.png' }],
} as const;

/** The BlockError a call (or a client's creation) throws: its kind and message. */
async function failure(call: () => unknown): Promise<{ kind: ErrorKind; message: string }> {
  const error = await (async () => call())().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(BlockError);
  return { kind: (error as BlockError).kind, message: (error as BlockError).message };
}

/** What `call` settles with, or `'still running'` after `ms`: a hang fails the test at once, not at jest's timeout. */
const within = (ms: number, call: Promise<unknown>) =>
  Promise.race([call, new Promise((resolve) => setTimeout(resolve, ms, 'still running').unref())]);

/** A local server answering every request with `answer`, stopped after the test; its base URL. */
async function localServer(answer: (res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume();
    answer(res);
  });
  return `${await listenLocal(server)}/v1`;
}

/** An error answer whose body starts and then never goes on, as from a stuck upstream. */
const stalledError = (res: ServerResponse) => {
  res.writeHead(500, { 'content-type': 'application/json' });
  res.write('{"error": {"message": "Upstream');
};

/** Makes the emulator's next images answer (generations, or edits) hold these `data` entries. */
const answerImages = (data: unknown[], route: 'images-generate' | 'images-edit' = 'images-generate') =>
  local.emulator.inject({ route, answer: { status: 200, body: { created: 1, data } } });

/** Makes the emulator's next chat answer hold this message content. */
const answerChat = (content: unknown) =>
  local.emulator.inject({
    route: 'chat',
    answer: { status: 200, body: { choices: [{ index: 0, message: { role: 'assistant', content } }] } },
  });

describe('the key and options, checked before any request', () => {
  test.each([
    ['no key', undefined],
    ['an empty key', ''],
    ['a key of spaces only', '  \n'],
  ])('%s: an input error naming the credentials', async (_, apiKey) => {
    const { kind, message } = await failure(() => client({ apiKey: apiKey as string }));
    expect([kind, message]).toEqual([
      'invalid_input',
      'credentials: no API key for the OpenAI-compatible provider was given',
    ]);
  });

  test.each([
    ['a space', 'sk-test key'],
    ['a line break', 'sk-test\nkey'],
    ['a non-ASCII character', 'sk-tést-key'],
  ])('a key holding %s: an input error, and nothing is sent', async (_, apiKey) => {
    const { kind, message } = await failure(() => client({ apiKey }));
    expect([kind, message]).toEqual([
      'invalid_input',
      'credentials: the API key holds characters no key has (spaces, line breaks or non-ASCII)',
    ]);
    expect(local.emulator.requests).toEqual([]);
  });

  test('a key pasted with spaces and a line break around it is sent trimmed, and taken', async () => {
    const images = await client({ apiKey: `  ${OPENAI_KEY}\n` }).generate(generate);
    expect(images).toHaveLength(1);
    expect(requestsTo(local.emulator, 'POST', /^\/v1\/images\/generations$/).map((r) => r.outcome)).toEqual([200]);
  });

  test('a base URL with trailing slashes: requests and messages use it without them', async () => {
    const slashed = client({ baseUrl: `${local.emulator.url}//` });
    expect(slashed.baseUrl).toBe(local.emulator.url);
    local.emulator.inject({ route: 'images-generate', answer: { status: 200, body: { created: 1, data: [] } } });
    const { message } = await failure(() => slashed.generate(generate));
    expect(message).toContain(`The OpenAI-compatible API at ${local.emulator.url} answered POST /images/generations`);
    expect(await slashed.generate(generate)).toHaveLength(1);
    expect(requestsTo(local.emulator, 'POST', /^\/v1\/images\/generations$/)).toHaveLength(2);
  });
});

describe('b64_json images: each a data: URI whose media type is read from its bytes', () => {
  test('png, jpeg, webp and gif each get their own type, in the order of the answer', async () => {
    const picture = sharp({ create: { width: 16, height: 12, channels: 3, background: '#c33' } });
    const samples: Array<[string, Buffer]> = [
      ['image/png', Buffer.from(EXAMPLE_IMAGE.split(',')[1]!, 'base64')],
      ['image/jpeg', await picture.clone().jpeg().toBuffer()],
      ['image/webp', await picture.clone().webp().toBuffer()],
      // The smallest GIF: 1x1, one colour.
      ['image/gif', Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64')],
    ];
    answerImages(samples.map(([, bytes]) => ({ b64_json: bytes.toString('base64') })));
    const images = await client().generate({ ...generate, n: 4, response_format: 'b64_json' });
    expect(images.map(({ url }) => url)).toEqual(
      samples.map(([type, bytes]) => `data:${type};base64,${bytes.toString('base64')}`),
    );
  });

  test('bytes of no image format known here, or only part of a signature, are labelled image/png', async () => {
    const header = (...parts: Array<string | number[]>) =>
      Buffer.concat([
        ...parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))),
        Buffer.alloc(16),
      ]);
    const samples = [
      header([0xff, 0xfb, 0x90, 0x64]), // an MP3 frame: 0xff as a JPEG has, but not 0xd8 after it
      header([0x00, 0xd8, 0xff, 0xe0]), // a JPEG's second byte without its first
      header('RIFF', [0x24, 0, 0, 0], 'WAVE'), // a RIFF file that is a WAV, not a WebP
      header('RIFX', [0x24, 0, 0, 0], 'WEBP'), // WEBP where a WebP has it, without RIFF first
      header('A plain text answer'),
    ];
    answerImages(samples.map((bytes) => ({ b64_json: bytes.toString('base64') })));
    const images = await client().generate({ ...generate, response_format: 'b64_json' });
    expect(images.map(({ url }) => url)).toEqual(
      samples.map((bytes) => `data:image/png;base64,${bytes.toString('base64')}`),
    );
  });

  test('an entry with b64_json takes it over its url; one with neither is a provider_error naming it', async () => {
    const png = EXAMPLE_IMAGE.split(',')[1]!;
    answerImages([{ url: 'https://cdn.example.com/a.png', b64_json: png }, { url: 'https://cdn.example.com/b.png' }]);
    expect((await client().generate(generate)).map(({ url }) => url)).toEqual([
      `data:image/png;base64,${png}`,
      'https://cdn.example.com/b.png',
    ]);
    answerImages([{ url: 'https://cdn.example.com/a.png' }, { revised_prompt: 'A red fox', url: null }]);
    const { kind, message } = await failure(() => client().generate(generate));
    expect(kind).toBe('provider_error');
    expect(message).toContain(
      `The OpenAI-compatible API at ${local.emulator.url} answered POST /images/generations with image 1 having neither url nor b64_json`,
    );
  });
});

describe('answers that are not what was asked for', () => {
  test.each([
    ['generate', 'images-generate', 'images/generations'],
    ['edit', 'images-edit', 'images/edits'],
  ] as const)(
    '%s: JSON that is not an images answer is a provider_error naming the field',
    async (call, route, path) => {
      const send = () => (call === 'edit' ? client().edit(edit) : client().generate(generate));
      const answered = `The OpenAI-compatible API at ${local.emulator.url} answered POST /${path} with`;
      for (const [body, why] of [
        [{ created: 1, images: ['https://cdn.example.com/a.png'] }, 'data: is required'],
        [['https://cdn.example.com/a.png'], 'body: must be an object, got array'],
      ] as const) {
        local.emulator.inject({ route, answer: { status: 200, body } });
        expect(await failure(send)).toEqual({
          kind: 'provider_error',
          message: expect.stringContaining(`${answered} JSON that is not an images answer (${why})`),
        });
      }
      answerImages([], route);
      expect(await failure(send)).toEqual({
        kind: 'no_image',
        message: expect.stringContaining(`${answered} no images. `),
      });
    },
  );

  test('JSON that is not a chat completion is a provider_error naming the field', async () => {
    for (const [body, why] of [
      [{ choices: [] }, 'choices: must have at least 1 item(s)'],
      [['https://cdn.example.com/a.png'], 'body: must be an object, got array'],
    ] as const) {
      local.emulator.inject({ route: 'chat', answer: { status: 200, body } });
      expect(await failure(() => client().chat({ model: 'flux-dev', content: 'x' }))).toEqual({
        kind: 'provider_error',
        message: expect.stringContaining(
          `The OpenAI-compatible API at ${local.emulator.url} answered POST /chat/completions with JSON that is not a chat completion (${why})`,
        ),
      });
    }
  });

  test('an answer larger than the most read from one is a provider_error saying so, not a JSON error', async () => {
    // An images answer that never ends: the client reads MAX_ANSWER_BYTES of it, then stops.
    const baseUrl = await localServer((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"created": 1, "data": [{"b64_json": "');
      const chunk = Buffer.alloc(1 << 20, 'A');
      const write = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', write);
      };
      write();
    });
    const { kind, message } = await failure(() => client({ baseUrl, timeoutMs: scaled(60_000) }).generate(generate));
    expect(kind).toBe('provider_error');
    expect(message).toContain(
      `The OpenAI-compatible API at ${baseUrl} answered POST /images/generations with more than ${MAX_ANSWER_BYTES} bytes, the most read from it`,
    );
  });
});

describe('chat answers as text parts', () => {
  test('the links are read from every text part, each part on its own line', async () => {
    answerChat([
      { type: 'text', text: 'https://cdn.example.com/a.png' },
      { type: 'text', text: 'https://cdn.example.com/b.png' },
    ]);
    expect(await client().chat({ model: 'flux-dev', content: 'x' })).toEqual([
      { url: 'https://cdn.example.com/a.png' },
      { url: 'https://cdn.example.com/b.png' },
    ]);
  });

  test('parts without a link: no_image quoting their text only', async () => {
    answerChat([{ type: 'text', text: 'I cannot draw that.' }, { type: 'refusal' }]);
    const { kind, message } = await failure(() => client().chat({ model: 'flux-dev', content: 'x' }));
    expect(kind).toBe('no_image');
    expect(message).toMatch(
      /^The chat answer holds no image link \(markdown image or URL\): "I cannot draw that\."\. /,
    );
  });
});

describe('a call the host stops', () => {
  test('stopped before it started: nothing is sent, and the message says so', async () => {
    const { kind, message } = await failure(() => client().generate(generate, { signal: AbortSignal.abort() }));
    expect(kind).toBe('host_aborted');
    expect(message).toMatch(/^The run was stopped by the host before it started\. /);
    expect(local.emulator.requests).toEqual([]);
  });

  test('stopped while the provider works: host_aborted, saying the provider may still bill the images', async () => {
    local.emulator.inject({ route: 'images-generate', answer: 'hang' });
    const controller = new AbortController();
    const call = failure(() => client().generate(generate, { signal: controller.signal }));
    await until(() => local.emulator.requests.length === 1);
    controller.abort();
    const { kind, message } = await call;
    expect(kind).toBe('host_aborted');
    expect(message).toMatch(
      /^The run was stopped by the host\. The request was abandoned; this API has no cancel, so the provider may still make and bill the images\. /,
    );
  });

  test("stopped while an error answer's body is still coming: the call ends, with the status the provider answered", async () => {
    const baseUrl = await localServer(stalledError);
    const controller = new AbortController();
    const call = failure(() => client({ baseUrl }).generate(generate, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 200);
    expect(await within(scaled(5000), call)).toEqual({
      kind: 'provider_error',
      message: expect.stringMatching(
        new RegExp(`^The OpenAI-compatible API at ${baseUrl} answered 500 Internal Server Error\\. `),
      ),
    });
  });

  test("calls leave no listener on the host's signal, however many share it", async () => {
    const signal = new AbortController().signal;
    const shared = client();
    for (let i = 0; i < 3; i++) expect(await shared.generate(generate, { signal })).toHaveLength(1);
    local.emulator.inject({ route: 'images-generate', answer: { status: 200, body: { created: 1, data: [] } } });
    expect((await failure(() => shared.generate(generate, { signal }))).kind).toBe('no_image');
    expect(getEventListeners(signal, 'abort')).toEqual([]);
  });
});

describe('the timeout bounds the whole call', () => {
  test('an error answer whose body stalls ends at the timeout, with the status the provider answered', async () => {
    const baseUrl = await localServer(stalledError);
    const started = Date.now();
    expect(
      await within(
        scaled(5000),
        failure(() => client({ baseUrl, timeoutMs: 300 }).generate(generate)),
      ),
    ).toEqual({
      kind: 'provider_error',
      message: expect.stringMatching(
        new RegExp(`^The OpenAI-compatible API at ${baseUrl} answered 500 Internal Server Error\\. `),
      ),
    });
    expect(Date.now() - started).toBeLessThan(scaled(3000));
  });

  test('an error answer whose body comes slowly, within the timeout, is read whole: its message is quoted', async () => {
    const baseUrl = await localServer((res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.write('{"error": {"message": "Invalid ');
      setTimeout(() => res.end(`'size'.", "type": "invalid_request_error", "param": "size", "code": null}}`), 200);
    });
    expect(await failure(() => client({ baseUrl, timeoutMs: scaled(10_000) }).generate(generate))).toEqual({
      kind: 'provider_rejected',
      message: expect.stringContaining(
        `The OpenAI-compatible API at ${baseUrl} answered 400 invalid_request_error (param: size): Invalid 'size'. `,
      ),
    });
  });
});

import { describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { OpenAICompatibleFluxImageBlock as block } from '../../blocks/index.js';
import { EXAMPLE_IMAGE } from '../../sdk.js';
import type { BlockContext } from '../../index.js';
import { collect, contextFor, errorOf, names, OPENAI_KEY, requestsTo, useEmulator } from '../helpers.js';

const local = useEmulator();
const credentials = { provider: 'openai_compatible', id: 'test-key', type: 'api_key' } as const;
const input = (fields: Record<string, unknown> = {}) => ({
  credentials,
  base_url: local.emulator.url,
  prompt: 'A lighthouse at dawn',
  ...fields,
});
/** A context that may fetch the emulator's own output files as reference images. */
const context = (more: Partial<BlockContext> = {}): BlockContext => ({
  ...contextFor(local.emulator),
  save: { allowedOrigins: [new URL(local.emulator.url).origin] },
  ...more,
});
const sizeOf = async (bytes: Buffer) => {
  const { format, width, height } = await sharp(bytes).metadata();
  return [format, width, height];
};
const download = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

describe('request shapes', () => {
  test('generations: JSON with model, prompt, n, the aspect ratio as a size, response_format; the key as Bearer', async () => {
    const outputs = await collect(block, input({ model: 'flux-schnell', aspect_ratio: '16:9', n: 2 }), context());
    expect(names(outputs)).toEqual(['result', 'result']);
    const [request] = requestsTo(local.emulator, 'POST', /^\/v1\/images\/generations$/);
    expect(request!.body).toEqual({
      model: 'flux-schnell',
      prompt: 'A lighthouse at dawn',
      n: 2,
      size: '1344x768',
      response_format: 'url',
    });
    expect(request!.headers['content-type']).toMatch(/^application\/json/);
    expect(request!.headers.authorization).toBe('Bearer [REDACTED]');
    expect(await sizeOf(await download(outputs[0]![1] as string))).toEqual(['png', 1344, 768]);
    expect(local.emulator.requests).toHaveLength(1);
  });

  test('generations: a size is sent as given', async () => {
    const outputs = await collect(block, input({ size: '512x1024' }), context());
    expect(requestsTo(local.emulator, 'POST', /generations$/)[0]!.body).toMatchObject({
      model: 'flux-dev',
      size: '512x1024',
    });
    expect(await sizeOf(await download(outputs[0]![1] as string))).toEqual(['png', 512, 1024]);
  });

  test('edits: multipart with the fields and one image part per reference, each with its own content type', async () => {
    // A jpeg made by the emulator, then the example png as a data: URI.
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#c33' } })
      .jpeg()
      .toBuffer();
    const jpegUri = `data:image/jpeg;base64,${jpeg.toString('base64')}`;
    const outputs = await collect(
      block,
      input({
        model: 'flux-kontext-max',
        prompt: 'Add glasses',
        aspect_ratio: '3:2',
        images: [jpegUri, EXAMPLE_IMAGE],
      }),
      context(),
    );
    expect(names(outputs)).toEqual(['result']);
    const [request] = requestsTo(local.emulator, 'POST', /^\/v1\/images\/edits$/);
    expect(request!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(request!.body).toEqual({
      model: 'flux-kontext-max',
      prompt: 'Add glasses',
      n: '1',
      aspect_ratio: '3:2',
      response_format: 'url',
      image: [
        { filename: 'image-1.jpg', type: 'image/jpeg', bytes: jpeg.length },
        { filename: 'image-2.png', type: 'image/png', bytes: expect.any(Number) },
      ],
    });
    expect(await sizeOf(await download(outputs[0]![1] as string))).toEqual(['png', 1248, 832]);
  });

  test("edits without a ratio or size: the output takes the first image's proportions", async () => {
    const outputs = await collect(block, input({ model: 'flux-kontext-pro', images: [EXAMPLE_IMAGE] }), context());
    const [, width, height] = await sizeOf(await download(outputs[0]![1] as string));
    expect((width as number) / (height as number)).toBeCloseTo(3 / 2, 1);
  });

  test('chat: one user message holding the image URLs and the prompt; the links are read from the markdown answer', async () => {
    const outputs = await collect(
      block,
      input({
        api: 'chat',
        model: 'flux-kontext-pro',
        images: ['https://example.com/cat.png'],
        prompt: 'Make it night',
      }),
      context(),
    );
    expect(names(outputs)).toEqual(['result']);
    expect(requestsTo(local.emulator, 'POST', /^\/v1\/chat\/completions$/)[0]!.body).toEqual({
      model: 'flux-kontext-pro',
      messages: [{ role: 'user', content: 'https://example.com/cat.png\nMake it night' }],
    });
    expect(await sizeOf(await download(outputs[0]![1] as string))).toEqual(['png', 1024, 1024]);
  });

  test('b64_json: each image a data: URI of the png bytes', async () => {
    const outputs = await collect(block, input({ response_format: 'b64_json', size: '512x512', n: 2 }), context());
    expect(names(outputs)).toEqual(['result', 'result']);
    for (const [, uri] of outputs) {
      expect(uri).toMatch(/^data:image\/png;base64,/);
      expect(await sizeOf(Buffer.from((uri as string).split(',')[1]!, 'base64'))).toEqual(['png', 512, 512]);
    }
  });

  test('revised_prompt is yielded after the results, once', async () => {
    const url = 'https://cdn.example.com/a.png';
    local.emulator.inject({
      route: 'images-generate',
      answer: {
        status: 200,
        body: {
          created: 1,
          data: [
            { url, revised_prompt: 'A lighthouse at dawn, soft light' },
            { url: `${url}?2`, revised_prompt: 'A lighthouse at dawn, soft light' },
          ],
        },
      },
    });
    expect(await collect(block, input({ n: 2 }), context())).toEqual([
      ['result', url],
      ['result', `${url}?2`],
      ['revised_prompt', 'A lighthouse at dawn, soft light'],
    ]);
  });
});

describe('validation before any request', () => {
  test.each([
    ['aspect_ratio and size', { aspect_ratio: '1:1', size: '512x512' }, 'size: give aspect_ratio or size, not both'],
    ['chat with n', { api: 'chat', n: 2 }, 'n: chat completions make one image'],
    [
      'chat with b64_json',
      { api: 'chat', response_format: 'b64_json' },
      'response_format: chat answers hold links only',
    ],
    ['chat with a data: URI image', { api: 'chat', images: [EXAMPLE_IMAGE] }, 'images.0: chat takes http(s) URLs only'],
    [
      'an image of another scheme',
      { model: 'flux-kontext-pro', images: ['ftp://example.com/a.png'] },
      'images.0: must be an http(s) URL',
    ],
    ['a bad size', { size: '1024' }, 'size: must be WIDTHxHEIGHT'],
    ['n over 4', { n: 5 }, 'n: must be <= 4'],
    ['a base URL that is not http(s)', { base_url: 'ftp://example.com/v1' }, 'base_url: must be an http(s) URL'],
  ])('%s', async (_, fields, message) => {
    expect(errorOf(await collect(block, input(fields), context()))).toContain(message);
    expect(local.emulator.requests).toEqual([]);
  });

  test('no key of provider openai_compatible: an input error naming where it goes, and never the Replicate token in its place', async () => {
    const message = errorOf(
      await collect(block, input(), {
        ...context(),
        credentials: { apiKey: 'r8_replicate_token_never_sent_elsewhere' },
      }),
    );
    expect(message).toContain('credentials: no API key of provider openai_compatible was given');
    expect(local.emulator.requests).toEqual([]);
  });

  test('a reference image on a private address is refused before the edit is sent', async () => {
    const message = errorOf(
      await collect(block, input({ model: 'flux-kontext-pro', images: ['http://10.1.2.3/a.png'] }), context()),
    );
    expect(message).toMatch(/^images\.0: http:\/\/10\.1\.2\.3\/a\.png is a private, loopback or link-local address/);
    expect(local.emulator.requests).toEqual([]);
  });

  test('a local path is refused unless the host allows local files', async () => {
    const message = errorOf(
      await collect(block, input({ model: 'flux-kontext-pro', images: ['./cat.png'] }), context()),
    );
    // Without context.files the path is no image URL at all: refused by the input schema.
    expect(message).toMatch(/^Invalid input: images\.0: must be an http\(s\) URL or a data:image\/\.\.\. URI/);
    expect(local.emulator.requests).toEqual([]);
  });
});

describe('the key', () => {
  test('never appears in an output, even when the provider echoes it', async () => {
    local.emulator.inject({
      route: 'images-generate',
      answer: {
        status: 400,
        body: { error: { message: `Bad key ${OPENAI_KEY}`, type: 'invalid_request_error', param: null, code: null } },
      },
    });
    const message = errorOf(await collect(block, input(), context()));
    expect(message).toContain('Bad key [REDACTED]');
    expect(message).not.toContain(OPENAI_KEY);
  });
});

import { describe, expect, test } from '@jest/globals';
import OpenAI, { toFile } from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { ImageEditParamsNonStreaming, ImageGenerateParamsNonStreaming } from 'openai/resources/images';
import sharp from 'sharp';
import { z } from 'zod';
import { OpenAICompatibleFluxImageBlock as block } from '../../blocks/index.js';
import { startEmulator } from '../../emulator/index.js';
import { EXAMPLE_IMAGE } from '../../sdk.js';
import { collect, contextFor, names, OPENAI_KEY, requestsTo, useEmulator } from '../helpers.js';

// Fidelity both ways: the official `openai` client gets images from the emulator's routes, and
// this block's requests fit OpenAI's documented request bodies.
const local = useEmulator();
const official = (options: { apiKey?: string; maxRetries?: number } = {}) =>
  new OpenAI({ apiKey: OPENAI_KEY, baseURL: local.emulator.url, ...options });
const sizeOf = async (bytes: Buffer) => {
  const { format, width, height } = await sharp(bytes).metadata();
  return [format, width, height];
};
const download = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());
const png = Buffer.from(EXAMPLE_IMAGE.split(',')[1]!, 'base64');

describe('the official openai client against the emulator', () => {
  test('images.generate with its defaults gets an image URL', async () => {
    const answer = await official().images.generate({ model: 'flux-dev', prompt: 'A red fox in the snow' });
    expect(answer.data).toHaveLength(1);
    expect(await sizeOf(await download(answer.data![0]!.url!))).toEqual(['png', 1024, 1024]);
  });

  test('images.generate with b64_json and a size', async () => {
    const answer = await official().images.generate({
      model: 'flux-schnell',
      prompt: 'A red fox',
      size: '512x1024',
      n: 2,
      response_format: 'b64_json',
    });
    expect(answer.data).toHaveLength(2);
    expect(await sizeOf(Buffer.from(answer.data![1]!.b64_json!, 'base64'))).toEqual(['png', 512, 1024]);
  });

  test('images.edit with one image, and with several', async () => {
    const one = await official().images.edit({
      model: 'flux-kontext-pro',
      prompt: 'Add glasses',
      image: await toFile(png, 'face.png', { type: 'image/png' }),
    });
    const [, width, height] = await sizeOf(await download(one.data![0]!.url!));
    expect((width as number) / (height as number)).toBeCloseTo(3 / 2, 1);
    const jpeg = await sharp(png).jpeg().toBuffer();
    const several = await official().images.edit({
      model: 'flux-kontext-max',
      prompt: 'Put them together',
      image: [await toFile(png, 'a.png', { type: 'image/png' }), await toFile(jpeg, 'b.jpg', { type: 'image/jpeg' })],
    });
    expect(several.data).toHaveLength(1);
    const [request] = requestsTo(local.emulator, 'POST', /edits$/).slice(-1) as Array<{
      body: Record<string, unknown>;
    }>;
    const parts = (request!.body['image[]'] ?? request!.body.image) as Array<{ type: string }>;
    expect(parts.map((p) => p.type)).toEqual(['image/png', 'image/jpeg']);
  });

  test('chat.completions.create answers a markdown image link', async () => {
    const answer = await official().chat.completions.create({
      model: 'flux-dev',
      messages: [{ role: 'user', content: 'A red fox' }],
    });
    expect(answer.choices[0]!.message.content).toMatch(
      /!\[image\]\(http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.png\)/,
    );
  });

  test("errors come as the client's own classes: 401 with code, 400 with param", async () => {
    const strict = await startEmulator({ token: 'the-only-valid-key-0000' });
    try {
      const refused = await new OpenAI({ apiKey: OPENAI_KEY, baseURL: strict.url }).images
        .generate({ model: 'flux-dev', prompt: 'x' })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((refused as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    } finally {
      await strict.close();
    }
    const bad = await official()
      .images.generate({ model: 'flux-dev', prompt: 'x', size: '10x10' })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect((bad as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('size');
  });

  test("a 429 with Retry-After is waited out by the client's own retries", async () => {
    local.emulator.inject({ route: 'images-generate', answer: { status: 429, retryAfter: '1' } });
    const answer = await official().images.generate({ model: 'flux-dev', prompt: 'x' });
    expect(answer.data).toHaveLength(1);
    expect(requestsTo(local.emulator, 'POST', /generations$/).map((r) => r.outcome)).toEqual([429, 200]);
  });
});

// OpenAI's documented request bodies for the fields this block may send (the `openai`
// package's types: each schema's output must be assignable to them, checked by tsc below),
// strict, so any other field fails.
const generateBody = z
  .object({
    prompt: z.string(),
    model: z.string().nullish(),
    n: z.number().int().min(1).max(10).nullish(),
    size: z.string().nullish(),
    response_format: z.enum(['url', 'b64_json']).nullish(),
  })
  .strict();
const editFields = z
  .object({
    prompt: z.string(),
    model: z.string().nullish(),
    n: z.coerce.number().int().min(1).max(10).nullish(),
    size: z.string().nullish(),
    response_format: z.enum(['url', 'b64_json']).nullish(),
  })
  .strict();
const chatBody = z
  .object({
    model: z.string(),
    messages: z.array(z.object({ role: z.literal('user'), content: z.string() }).strict()).min(1),
  })
  .strict();
export const typed: [
  (body: z.output<typeof generateBody>) => ImageGenerateParamsNonStreaming,
  (body: z.output<typeof editFields>) => Omit<ImageEditParamsNonStreaming, 'image'>,
  (body: z.output<typeof chatBody>) => ChatCompletionCreateParamsNonStreaming,
] = [(body) => body, (body) => body, (body) => body];

describe("the block's requests fit OpenAI's documented bodies", () => {
  const credentials = { provider: 'openai_compatible', id: 'test-key', type: 'api_key' } as const;
  const run = (fields: Record<string, unknown>) =>
    collect(
      block,
      { credentials, base_url: local.emulator.url, prompt: 'A red fox', ...fields },
      contextFor(local.emulator),
    );

  test('generations, with an aspect ratio, a size, n and b64_json', async () => {
    expect(names(await run({ aspect_ratio: '9:16', n: 2 }))).toEqual(['result', 'result']);
    expect(names(await run({ size: '512x512', response_format: 'b64_json' }))).toEqual(['result']);
    for (const { body } of requestsTo(local.emulator, 'POST', /generations$/))
      expect(generateBody.safeParse(body).error).toBeUndefined();
  });

  test("edits: OpenAI's fields and image parts, plus only the aggregators' documented aspect_ratio", async () => {
    expect(names(await run({ model: 'flux-kontext-pro', images: [EXAMPLE_IMAGE], aspect_ratio: '4:3' }))).toEqual([
      'result',
    ]);
    expect(
      names(await run({ model: 'flux-kontext-pro', images: [EXAMPLE_IMAGE, EXAMPLE_IMAGE], size: '1024x768' })),
    ).toEqual(['result']);
    for (const { body } of requestsTo(local.emulator, 'POST', /edits$/)) {
      const { image, aspect_ratio: _, ...fields } = body as Record<string, unknown>;
      expect(editFields.safeParse(fields).error).toBeUndefined();
      expect((image as Array<{ type: string }>).every((part) => part.type === 'image/png')).toBe(true);
    }
  });

  test('chat completions', async () => {
    expect(names(await run({ api: 'chat', images: ['https://example.com/a.png'] }))).toEqual(['result']);
    expect(chatBody.safeParse(requestsTo(local.emulator, 'POST', /chat\/completions$/)[0]!.body).error).toBeUndefined();
  });
});

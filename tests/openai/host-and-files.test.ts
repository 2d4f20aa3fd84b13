import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { OpenAICompatibleFluxImageBlock as block, ReplicateFluxAdvancedModelBlock } from '../../blocks/index.js';
import { openEnvironment, withCredentials } from '../../hosts/environment/environment.js';
import { imageLinks } from '../../shared/openai/chat-images.js';
import { runBlock } from '../../index.js';
import { collect, contextFor, names, OPENAI_KEY, requestsTo, useEmulator } from '../helpers.js';

const local = useEmulator();
let dir: string;
let jpegPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-openai-'));
  jpegPath = join(dir, 'cat.jpg');
  await writeFile(
    jpegPath,
    await sharp({ create: { width: 90, height: 160, channels: 3, background: '#39c' } })
      .jpeg()
      .toBuffer(),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the host environment', () => {
  test('OPENAI_COMPATIBLE_API_KEY becomes credentials.keys.openai_compatible, beside the Replicate token', async () => {
    const environment = await openEnvironment(
      { baseUrl: local.emulator.url },
      { REPLICATE_API_TOKEN: 'r8_abc', OPENAI_COMPATIBLE_API_KEY: 'sk-xyz' },
    );
    expect(environment.context.credentials).toEqual({ apiKey: 'r8_abc', keys: { openai_compatible: 'sk-xyz' } });
    await environment.close();
  });

  test('without it, no key of that provider: the block says where it would come from', async () => {
    const environment = await openEnvironment({ baseUrl: local.emulator.url }, { REPLICATE_API_TOKEN: 'r8_abc' });
    expect(environment.context.credentials).toEqual({ apiKey: 'r8_abc' });
    const input = withCredentials(block, { base_url: local.emulator.url, prompt: 'x' });
    const outputs = [];
    for await (const output of runBlock(block, input as never, environment.context)) outputs.push(output);
    expect(outputs).toEqual([['error', expect.stringContaining('the CLI reads OPENAI_COMPATIBLE_API_KEY')]]);
    await environment.close();
  });

  test('OPENAI_COMPATIBLE_ORIGINS: the key goes only to those origins; another base_url is refused before any request', async () => {
    const origin = new URL(local.emulator.url).origin;
    const environment = await openEnvironment(
      { baseUrl: local.emulator.url },
      {
        REPLICATE_API_TOKEN: 'r8_abc',
        OPENAI_COMPATIBLE_API_KEY: OPENAI_KEY,
        OPENAI_COMPATIBLE_ORIGINS: ` ${origin}, https://api.aggregator.example`,
      },
    );
    expect(environment.context.credentials?.origins).toEqual({
      openai_compatible: [origin, 'https://api.aggregator.example'],
    });
    const run = async (base_url: string) => {
      const outputs = [];
      for await (const output of runBlock(
        block,
        withCredentials(block, { base_url, prompt: 'x' }) as never,
        environment.context,
      ))
        outputs.push(output);
      return outputs;
    };
    expect(await run('https://attacker.example/v1')).toEqual([
      [
        'error',
        expect.stringMatching(
          `^base_url: the host sends its openai_compatible key only to ${origin}, https://api.aggregator.example, not to https://attacker.example, so nothing was sent\\. To allow it, list its origin in OPENAI_COMPATIBLE_ORIGINS`,
        ),
      ],
    ]);
    expect(local.emulator.requests).toEqual([]);
    expect(names(await run(local.emulator.url))).toEqual(['result']);
    await environment.close();
  });

  test("withCredentials names each block's own provider and variable, never a key", () => {
    expect(withCredentials(block, {})).toEqual({
      credentials: {
        provider: 'openai_compatible',
        id: 'OPENAI_COMPATIBLE_API_KEY',
        type: 'api_key',
        title: 'OPENAI_COMPATIBLE_API_KEY from the environment',
      },
    });
    expect(
      (withCredentials(ReplicateFluxAdvancedModelBlock, {}) as { credentials: { id: string } }).credentials.id,
    ).toBe('REPLICATE_API_TOKEN');
  });
});

describe('local files, where the host allows them (context.files)', () => {
  test('the block sends a local file as an image part, as the CLI allows', async () => {
    const credentials = { provider: 'openai_compatible', id: 'k', type: 'api_key' };
    const outputs = await collect(
      block,
      { credentials, base_url: local.emulator.url, model: 'flux-kontext-pro', prompt: 'x', images: jpegPath },
      { ...contextFor(local.emulator), files: { allowDir: dir } },
    );
    expect(names(outputs)).toEqual(['result']);
    expect((requestsTo(local.emulator, 'POST', /edits$/)[0]!.body as { image: unknown }).image).toEqual([
      { filename: 'image-1.jpg', type: 'image/jpeg', bytes: expect.any(Number) },
    ]);
  });
});

describe('image links in a chat answer', () => {
  test.each([
    [
      'markdown images, in order, each once',
      'Here:\n![a](https://x.test/1.png) and ![b](<https://x.test/2.webp> "title")\n![a](https://x.test/1.png)',
      ['https://x.test/1.png', 'https://x.test/2.webp'],
    ],
    [
      'markdown images win over other links',
      'See https://docs.test/page. ![img](https://x.test/1.png)',
      ['https://x.test/1.png'],
    ],
    [
      'bare URLs without trailing punctuation',
      'Your image: https://x.test/a.png. Another: (https://x.test/b.jpg)',
      ['https://x.test/a.png', 'https://x.test/b.jpg'],
    ],
    ['a data: URI', '![x](data:image/png;base64,iVBORw0KGgo=)', ['data:image/png;base64,iVBORw0KGgo=']],
    ['none', 'Sorry, I can only describe images.', []],
    ['a markdown image of another scheme', '![x](javascript:alert(1))', []],
  ])('%s', (_, text, links) => {
    expect(imageLinks(text)).toEqual(links);
  });
});

import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { z } from 'zod';
import { runBlock, type BlockContext } from '../../index.js';
import { defineBlock, imageUrl } from '../../sdk.js';
import { BlockError } from '../../index.js';
import { MAX_FILE_BYTES } from '../../shared/replicate/files.js';
import { collect, TOKEN } from '../helpers.js';

/** A minimal block whose run is given by the test. */
function testBlock(
  run: (
    input: { n: number },
    context: BlockContext,
  ) => AsyncGenerator<readonly ['result', string] | readonly ['error', string]>,
) {
  return defineBlock({
    id: '5b1f8f8e-3c2a-4d7b-9e1f-0a2b3c4d5e6f',
    name: 'TestBlock',
    description: 'A block for framework tests.',
    categories: ['AI'],
    inputSchema: z.object({ n: z.number().int().max(3) }).strict(),
    outputSchema: z.object({ result: z.string().url(), error: z.string() }),
    documentation: { whatItDoes: '', howItWorks: '', useCases: [], tips: [] },
    examples: [],
    run,
  });
}
const context = { credentials: { apiKey: TOKEN } };

test('invalid input never reaches run', async () => {
  let ran = false;
  const block = testBlock(async function* () {
    ran = true;
    yield ['result', 'https://a.test/x.png'];
  });
  expect(await collect(block, { n: 9, m: 1 }, context)).toEqual([
    ['error', 'Invalid input: n: must be <= 3; input: has unknown field(s) m'],
  ]);
  expect(ran).toBe(false);
});

test('a yielded value that breaks the output schema becomes the one error', async () => {
  const block = testBlock(async function* () {
    yield ['result', 'https://a.test/1.png'];
    yield ['result', 'not a url'];
    yield ['result', 'https://a.test/3.png'];
  });
  expect(await collect(block, { n: 1 }, context)).toEqual([
    ['result', 'https://a.test/1.png'],
    [
      'error',
      'Internal error: TestBlock yielded an invalid "result" output (result: Invalid url). Report it with the message.',
    ],
  ]);
});

test('an output name outside the schema becomes an error', async () => {
  const block = testBlock(async function* () {
    yield ['picture' as 'result', 'https://a.test/1.png'];
  });
  expect(await collect(block, { n: 1 }, context)).toEqual([
    [
      'error',
      'Internal error: TestBlock yielded an invalid "picture" output (not in the output schema). Report it with the message.',
    ],
  ]);
});

test('thrown errors become one error output, with the token masked; nothing follows an error', async () => {
  // These test blocks fail before their first yield, on purpose.
  // eslint-disable-next-line require-yield
  const failing = testBlock(async function* () {
    throw new BlockError('unauthorized', `bad key ${TOKEN}`);
  });
  expect(await collect(failing, { n: 1 }, context)).toEqual([
    ['error', 'bad key [REDACTED]. Check the Replicate API token: that it is current and may run this model.'],
  ]);
  // eslint-disable-next-line require-yield
  const buggy = testBlock(async function* () {
    throw new RangeError('oops');
  });
  expect(await collect(buggy, { n: 1 }, context)).toEqual([
    ['error', 'Internal error: oops. Report it with the message.'],
  ]);
  const stops = testBlock(async function* () {
    yield ['error', 'first'];
    yield ['result', 'https://a.test/never.png'];
  });
  expect(await collect(stops, { n: 1 }, context)).toEqual([['error', 'first']]);
});

test('runBlock never throws, even for a run that is not a generator', async () => {
  const broken = testBlock((() => {
    throw new Error('no generator');
  }) as never);
  const outputs: unknown[] = [];
  for await (const output of runBlock(broken, { n: 1 }, context)) outputs.push(output);
  expect(outputs).toEqual([['error', 'Internal error: no generator. Report it with the message.']]);
});

test('every string output is redacted of each secret in the credentials; other values pass as they are', async () => {
  const other = 'sk-other-provider-key-0123456789abcdef';
  const block = defineBlock({
    id: '6c2f9f8e-3c2a-4d7b-9e1f-0a2b3c4d5e70',
    name: 'EchoBlock',
    description: 'Echoes its secrets, for framework tests.',
    categories: ['AI'],
    inputSchema: z.object({}).strict(),
    outputSchema: z.object({ text: z.string(), count: z.number(), error: z.string() }),
    documentation: { whatItDoes: '', howItWorks: '', useCases: [], tips: [] },
    examples: [],
    async *run() {
      yield ['text', `${TOKEN} and ${other}`];
      yield ['count', 3];
      yield ['error', `failed with ${other}`];
    },
  });
  expect(await collect(block, {}, { credentials: { apiKey: TOKEN, keys: { other } } })).toEqual([
    ['text', '[REDACTED] and [REDACTED]'],
    ['count', 3],
    ['error', 'failed with [REDACTED]'],
  ]);
});

test('a thrown value that is not an Error becomes an internal error with its text', async () => {
  // eslint-disable-next-line require-yield
  const block = testBlock(async function* () {
    throw `plain ${TOKEN}`;
  });
  expect(await collect(block, { n: 1 }, context)).toEqual([
    ['error', 'Internal error: plain [REDACTED]. Report it with the message.'],
  ]);
});

describe('local image files (context.files)', () => {
  const imageBlock = defineBlock({
    id: '7d3f9f8e-3c2a-4d7b-9e1f-0a2b3c4d5e71',
    name: 'ImageBlock',
    description: 'Reads an image input, for framework tests.',
    categories: ['AI'],
    inputSchema: z.object({ image: imageUrl() }).strict(),
    outputSchema: z.object({ result: z.string(), error: z.string() }),
    documentation: { whatItDoes: '', howItWorks: '', useCases: [], tips: [] },
    examples: [],
    async *run({ image }) {
      yield ['result', image.slice(0, 22)];
    },
  });

  test('a path inside the allowed directory is read into a data: URI before the input check', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'run-block-'));
    try {
      await writeFile(
        join(dir, 'in.png'),
        await sharp({ create: { width: 2, height: 2, channels: 3, background: '#00f' } })
          .png()
          .toBuffer(),
      );
      expect(await collect(imageBlock, { image: 'in.png' }, { files: { allowDir: dir } })).toEqual([
        ['result', 'data:image/png;base64,'],
      ]);
      // Without context.files, a path is no URL: the input check refuses it.
      expect(await collect(imageBlock, { image: 'in.png' }, {})).toEqual([
        ['error', expect.stringMatching(/^Invalid input: image: /)],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a file of 100,000,000 bytes or more is refused before it is read; one byte less is read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'run-block-'));
    try {
      // Sparse files: their size without the disk space.
      await writeFile(join(dir, 'at.png'), '');
      await truncate(join(dir, 'at.png'), MAX_FILE_BYTES);
      await writeFile(join(dir, 'under.png'), '');
      await truncate(join(dir, 'under.png'), MAX_FILE_BYTES - 1);
      expect(await collect(imageBlock, { image: 'at.png' }, { files: { allowDir: dir } })).toEqual([
        ['error', "image: at.png is 100000000 bytes; Replicate's Files API takes files under 100000000 bytes (100 MB)"],
      ]);
      // Read, and refused only as no image (zeros): its size was not the matter.
      expect(await collect(imageBlock, { image: 'under.png' }, { files: { allowDir: dir } })).toEqual([
        ['error', expect.stringMatching(/^image: under\.png: .*image/)],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a path outside it is one error, redacted, and run is never reached', async () => {
    const outputs = await collect(
      imageBlock,
      { image: `../${TOKEN}.png` },
      { files: { allowDir: tmpdir() }, credentials: { apiKey: TOKEN } },
    );
    expect(outputs).toEqual([
      ['error', expect.stringMatching(/^image: the local file \.\.\/\[REDACTED\]\.png is outside /)],
    ]);
  });
});

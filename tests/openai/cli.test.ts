import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { OPENAI_KEY, requestsTo, ROOT } from '../helpers.js';

const BIN = join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js');
let emulator: Emulator;
let dir: string;
beforeAll(async () => {
  // It accepts OPENAI_KEY only, so a run that succeeds sent the key from OPENAI_COMPATIBLE_API_KEY.
  emulator = await startEmulator({ token: OPENAI_KEY });
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-openai-cli-'));
  await writeFile(
    join(dir, 'photo.jpg'),
    await sharp({ create: { width: 120, height: 90, channels: 3, background: '#963' } })
      .jpeg()
      .toBuffer(),
  );
});
afterAll(async () => {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});

test("the CLI sends OPENAI_COMPATIBLE_API_KEY to base_url and a local file as the edit's image part; the key is in no output", async () => {
  const input = { base_url: emulator.url, model: 'flux-kontext-pro', prompt: 'Make it night', images: './photo.jpg' };
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [
      BIN,
      'run',
      'OpenAICompatibleFluxImageBlock',
      '--input',
      JSON.stringify(input),
      '--base-url',
      emulator.url,
      // The key goes only to listed origins (OPENAI_COMPATIBLE_ORIGINS, or this flag).
      '--openai-compatible-origins',
      new URL(emulator.url).origin,
    ],
    {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        REPLICATE_API_TOKEN: 'r8_unused_token_0000000000',
        OPENAI_COMPATIBLE_API_KEY: OPENAI_KEY,
      },
    },
  );
  const lines = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { output: string; value: string });
  expect(lines).toEqual([
    { output: 'result', value: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.png$/) },
  ]);
  const [edit] = requestsTo(emulator, 'POST', /^\/v1\/images\/edits$/);
  expect((edit!.body as { image: unknown }).image).toEqual([
    { filename: 'image-1.jpg', type: 'image/jpeg', bytes: expect.any(Number) },
  ]);
  expect(stdout + stderr).not.toContain(OPENAI_KEY);
});

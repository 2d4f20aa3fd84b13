import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { startStudio } from '../../hosts/studio/server/index.js';
import type { Upload } from '../../hosts/studio/protocol.js';
import { own, TOKEN, useEmulator } from '../helpers.js';

// POST /api/uploads over real HTTP: images from the page are kept, up to the uploads folder's limit.
const handle = useEmulator();
const SESSION = 'studio-uploads-session-token';
let base = '';
let cookie = '';
let out = '';
const pngs: Buffer[] = [];

beforeAll(async () => {
  for (const background of ['#f00', '#0f0', '#00f'])
    pngs.push(
      await sharp({ create: { width: 64, height: 64, channels: 3, background } })
        .png()
        .toBuffer(),
    );
  out = await own(mkdtemp(join(tmpdir(), 'studio-uploads-')), (made) => rm(made, { recursive: true, force: true }));
  // Room for two of the three images.
  const maxUploadsBytes = pngs[0]!.length + pngs[1]!.length + Math.floor(pngs[2]!.length / 2);
  const studio = await own(
    startStudio({
      port: 0,
      baseUrl: handle.emulator.url,
      out,
      token: SESSION,
      env: { REPLICATE_API_TOKEN: TOKEN },
      maxUploadsBytes,
    }),
    (s) => s.close(),
  );
  base = `http://127.0.0.1:${studio.port}`;
  const answer = await fetch(`${base}/?token=${SESSION}`, { redirect: 'manual' });
  cookie = answer.headers.get('set-cookie')!.split(';')[0]!;
});

const upload = (bytes: Buffer) =>
  fetch(`${base}/api/uploads`, {
    method: 'POST',
    body: bytes,
    headers: { Cookie: cookie, Origin: base, 'Content-Type': 'image/png' },
  });

test('images are kept until the uploads folder is full; then one is refused with what to do, and nothing is written', async () => {
  for (const png of pngs.slice(0, 2)) {
    const answer = await upload(png);
    expect(answer.status).toBe(201);
    expect(((await answer.json()) as Upload).path).toMatch(/^uploads\/[0-9a-f]{16}\.png$/);
  }
  const refused = await upload(pngs[2]!);
  expect(refused.status).toBe(507);
  expect(((await refused.json()) as { error: string }).error).toMatch(
    /^Not kept: The studio's uploads folder \(.+\) holds \d+ bytes, .+ limit: delete files there that no graph needs, or give the image by URL$/,
  );
  expect(await readdir(join(out, 'uploads'))).toHaveLength(2);
  // An image kept already adds nothing: sent again, it is accepted.
  expect((await upload(pngs[0]!)).status).toBe(201);
  expect(await readdir(join(out, 'uploads'))).toHaveLength(2);
});

test('bytes that are no image are refused (422) and not kept', async () => {
  const answer = await upload(Buffer.from('not an image at all'));
  expect(answer.status).toBe(422);
  expect(((await answer.json()) as { error: string }).error).toMatch(/^Not kept: /);
});

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { SaveImageBlock as block } from '../../blocks/index.js';
import { ERROR_KINDS, type SaveOptions } from '../../index.js';
import { fetchImage } from '../../shared/image/fetch-image.js';
import { collect, errorOf, names } from '../helpers.js';

let dir: string;
let png: Buffer;
let server: Server;
let origin = '';
let other: Server;
let otherOrigin = '';

/** A local file server: /image.png, /text, /redirect-to?url=..., /big (no Content-Length), /hang, /missing. */
function serve(handler: Parameters<typeof createServer>[1]): Promise<[Server, string]> {
  const s = createServer(handler);
  return new Promise((resolve) =>
    s.listen(0, '127.0.0.1', () => resolve([s, `http://127.0.0.1:${(s.address() as { port: number }).port}`])),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-save-'));
  png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#36c' } })
    .png()
    .toBuffer();
  [server, origin] = await serve((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/image.png')
      return res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': png.length }).end(png);
    if (url.pathname === '/mislabelled') return res.writeHead(200, { 'Content-Type': 'text/plain' }).end(png);
    if (url.pathname === '/text') return res.writeHead(200, { 'Content-Type': 'image/png' }).end('not an image at all');
    if (url.pathname === '/redirect-to') return res.writeHead(302, { Location: url.searchParams.get('url')! }).end();
    if (url.pathname === '/big') {
      res.writeHead(200, { 'Content-Type': 'image/png' });
      res.write(Buffer.alloc(600));
      return res.end(Buffer.alloc(600));
    }
    if (url.pathname === '/hang') return undefined;
    res.writeHead(404).end();
  });
  [other, otherOrigin] = await serve((_, res) => res.writeHead(200, { 'Content-Type': 'image/png' }).end(png));
});
afterAll(async () => {
  server.closeAllConnections();
  other.closeAllConnections();
  await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => other.close(r))]);
  await rm(dir, { recursive: true, force: true });
});

const save = (input: Record<string, unknown>, options: SaveOptions = {}, signal?: AbortSignal) =>
  collect(block, input, { save: { dir, allowedOrigins: [origin], ...options }, signal });

describe('saving', () => {
  test('a URL from an allowed origin is written to the host directory, named by content; type and size come from the bytes', async () => {
    const outputs = await save({ image: `${origin}/mislabelled` });
    expect(names(outputs)).toEqual(['path', 'content_type', 'width', 'height']);
    const path = outputs[0]![1] as string;
    expect(path).toMatch(new RegExp(`^${dir}/[0-9a-f]{16}\\.png$`));
    expect(await readFile(path)).toEqual(png);
    expect(outputs.slice(1)).toEqual([
      ['content_type', 'image/png'],
      ['width', 64],
      ['height', 48],
    ]);
    // The same image again: the same file.
    expect((await save({ image: `${origin}/image.png` }))[0]).toEqual(['path', path]);
  });

  test('store_as data_uri yields the image inline and writes nothing', async () => {
    const outputs = await save({ image: `${origin}/image.png`, store_as: 'data_uri' }, { dir: join(dir, 'never') });
    expect(outputs[0]).toEqual(['data_uri', `data:image/png;base64,${png.toString('base64')}`]);
    await expect(readFile(join(dir, 'never'))).rejects.toThrow();
  });

  test('a data: URI input is decoded and saved', async () => {
    const outputs = await save({ image: `data:image/png;base64,${png.toString('base64')}` });
    expect(await readFile(outputs[0]![1] as string)).toEqual(png);
  });
});

describe('refusals, each one error naming the cause', () => {
  test.each([
    ['file:///etc/passwd', 'Invalid input: image: must be an http(s) URL or a data:image/... URI'],
    ['ftp://example.com/a.png', 'Invalid input: image: must be an http(s) URL or a data:image/... URI'],
    ['data:text/html,<script>', 'Invalid input: image: must be an http(s) URL or a data:image/... URI'],
  ])('scheme: %s', async (image, message) => {
    expect(errorOf(await save({ image }))).toBe(message);
  });

  test.each([
    'http://127.0.0.1:1/a.png',
    'http://10.1.2.3/a.png',
    'http://172.16.0.1/a.png',
    'http://192.168.1.1/a.png',
    'http://169.254.169.254/latest/meta-data',
    'http://100.64.0.1/a.png',
    'http://0.0.0.0/a.png',
    'http://[::1]/a.png',
    'http://[fe80::1]/a.png',
    'http://[fd00::1]/a.png',
    'http://[::ffff:127.0.0.1]/a.png',
  ])('a private, loopback or link-local address: %s', async (image) => {
    expect(errorOf(await save({ image }))).toMatch(
      /is a private, loopback or link-local address\. Pass a public http\(s\) URL/,
    );
  });

  test('a name that resolves to a loopback address (checked at connect time)', async () => {
    const port = new URL(otherOrigin).port;
    expect(errorOf(await save({ image: `http://localhost:${port}/a.png` }))).toMatch(
      new RegExp(`^http://localhost:${port}/a\\.png resolves to (127\\.0\\.0\\.1|::1), a private`),
    );
  });

  test('another local origin than the allowed one', async () => {
    expect(errorOf(await save({ image: `${otherOrigin}/a.png` }))).toContain(
      'is a private, loopback or link-local address',
    );
    expect(names(await save({ image: `${otherOrigin}/a.png` }, { allowedOrigins: [otherOrigin] }))).toEqual([
      'path',
      'content_type',
      'width',
      'height',
    ]);
  });

  test('a redirect from an allowed origin to a private address', async () => {
    const image = `${origin}/redirect-to?url=${encodeURIComponent(`${otherOrigin}/a.png`)}`;
    expect(errorOf(await save({ image }))).toContain(
      `${otherOrigin}/a.png is a private, loopback or link-local address (redirected from ${image})`,
    );
  });

  test('a redirect to a non-http scheme', async () => {
    const image = `${origin}/redirect-to?url=${encodeURIComponent('file:///etc/passwd')}`;
    expect(errorOf(await save({ image }))).toContain('file: URLs are not fetched (redirected from');
  });

  test('a body over the size limit, by Content-Length and while streaming', async () => {
    expect(errorOf(await save({ image: `${origin}/image.png` }, { maxBytes: 100 }))).toMatch(
      /image\.png is \d+ bytes, over the 100-byte limit\. Use a smaller image/,
    );
    expect(errorOf(await save({ image: `${origin}/big` }, { maxBytes: 1000 }))).toContain(
      '/big sent more than the 1000-byte limit',
    );
  });

  test('a data: URI over the size limit', async () => {
    expect(
      errorOf(await save({ image: `data:image/png;base64,${png.toString('base64')}` }, { maxBytes: 100 })),
    ).toContain('The data: URI holds more than the 100-byte limit');
  });

  test.each([
    ['data:image/png,%E0%A4%A', "the data: URI's payload is not valid percent-encoding"],
    ['data:image/png;base64,%%%%', "the data: URI's payload is not valid base64"],
    ['data:image/png;base64,!!!!', "the data: URI's payload is not valid base64"],
    ['data:image/png;base64,=', 'the data: URI holds no data'],
  ])('an undecodable data: URI is an input error naming image: %s', async (image, why) => {
    expect(errorOf(await save({ image }))).toBe(`Invalid input: image: ${why}`);
  });

  test('fetchImage given a data: URI that decodes to nothing says not_an_image, not Internal error', async () => {
    await expect(fetchImage('data:image/png;base64,!!!!')).rejects.toMatchObject({ kind: 'not_an_image' });
  });

  test('bytes that are not an image', async () => {
    expect(errorOf(await save({ image: `${origin}/text` }))).toMatch(
      /^The 19 bytes are not an image in a format the block reads\. Pass the URL or data: URI of an image file\.$/,
    );
  });

  test('an HTTP error (Replicate answers 404 for deleted outputs)', async () => {
    expect(errorOf(await save({ image: `${origin}/missing` }))).toContain(
      `${origin}/missing answered HTTP 404. Check the URL`,
    );
  });

  test("a download is bounded by the run's timeout (runner.timeoutMs), with advice about downloads", async () => {
    const outputs = await collect(
      block,
      { image: `${origin}/hang` },
      { save: { dir, allowedOrigins: [origin] }, runner: { timeoutMs: 200 } },
    );
    expect(errorOf(outputs)).toBe(
      `Downloading ${origin}/hang took over 200 ms. ${ERROR_KINDS.download_timed_out.advice}`,
    );
    expect(ERROR_KINDS.download_timed_out.advice).toMatch(/image URL/);
  });

  test('a download the host aborts, with and without a reason', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    expect(errorOf(await save({ image: `${origin}/hang` }, {}, controller.signal))).toMatch(
      /^The download was stopped by the host\./,
    );
    const interrupted = new AbortController();
    setTimeout(() => interrupted.abort('interrupted (Ctrl-C)'), 100);
    expect(errorOf(await save({ image: `${origin}/hang` }, {}, interrupted.signal))).toMatch(
      /^The download was interrupted \(Ctrl-C\)\./,
    );
  });

  test('a directory that cannot be written', async () => {
    const blocker = join(dir, 'a-file');
    await (await import('node:fs/promises')).writeFile(blocker, 'x');
    expect(errorOf(await save({ image: `${origin}/image.png` }, { dir: join(blocker, 'sub') }))).toMatch(
      /^Could not write .*: (ENOTDIR|EEXIST)\. Check that the directory/,
    );
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { dataUriSize } from '../../shared/core/data-uri.js';
import { fetchImage, type ConcurrencyLimit, type FetchedImage } from '../../shared/image/fetch-image.js';
import { dataUriPixelSize } from '../../shared/image/image-size.js';
import { writeImage } from '../../shared/image/write-image.js';

// fetchImage over real HTTP from a local server, each route one way a download can go.
let server: Server;
let origin = '';
let accept: string | undefined;
let png: Buffer;
let jpeg: Buffer;

beforeAll(async () => {
  png = await sharp({ create: { width: 3, height: 2, channels: 3, background: '#f00' } })
    .png()
    .toBuffer();
  jpeg = await sharp({ create: { width: 5, height: 4, channels: 3, background: '#0f0' } })
    .jpeg()
    .toBuffer();
  server = createServer((req, res) => {
    const path = req.url!;
    accept = req.headers.accept;
    if (path === '/image.png') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(png);
    if (path === '/image.jpg') return void res.writeHead(200).end(jpeg);
    if (path === '/missing') return void res.writeHead(404).end('no');
    if (path === '/redirect') return void res.writeHead(301, { location: '/image.png' }).end();
    if (path === '/to-ftp') return void res.writeHead(302, { location: 'ftp://files.example/x.png' }).end();
    if (path === '/to-private') return void res.writeHead(302, { location: 'http://10.0.0.1/x.png' }).end();
    if (path === '/no-location') return void res.writeHead(302).end();
    // Location means a redirect only with a 3xx status.
    if (path === '/300') return void res.writeHead(300, { location: '/image.png' }).end();
    if (path === '/200-with-location') return void res.writeHead(200, { location: '/missing' }).end(png);
    if (path === '/400-with-location') return void res.writeHead(400, { location: '/image.png' }).end();
    if (path === '/announced-large')
      return void res.writeHead(200, { 'content-length': '2000' }).end(Buffer.alloc(2000));
    if (path === '/chunked-large') {
      res.writeHead(200);
      res.write(Buffer.alloc(600));
      return void setTimeout(() => res.end(Buffer.alloc(600)), 20);
    }
    if (path === '/text') return void res.writeHead(200).end('hello, not an image');
    if (path === '/empty') return void res.writeHead(200).end();
    if (path === '/slow') {
      const timer = setTimeout(() => res.writeHead(200).end(png), 2_000);
      return void res.on('close', () => clearTimeout(timer));
    }
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

const allowed = () => ({ allowedOrigins: [origin] });

describe('fetchImage over http', () => {
  test("an image is read and described from its bytes, not the server's content type", async () => {
    expect(await fetchImage(`${origin}/image.png`, allowed())).toEqual({
      bytes: png,
      contentType: 'image/png',
      extension: 'png',
      width: 3,
      height: 2,
    });
    expect(await fetchImage(`${origin}/image.jpg`, allowed())).toMatchObject({
      contentType: 'image/jpeg',
      extension: 'jpg',
      width: 5,
      height: 4,
    });
  });

  test('redirects are followed: a 3xx with a Location, and only that', async () => {
    expect((await fetchImage(`${origin}/redirect`, allowed())).bytes).toEqual(png);
    expect((await fetchImage(`${origin}/300`, allowed())).bytes).toEqual(png);
    expect((await fetchImage(`${origin}/200-with-location`, allowed())).bytes).toEqual(png);
    await expect(fetchImage(`${origin}/400-with-location`, allowed())).rejects.toMatchObject({
      kind: 'download_failed',
      detail: `${origin}/400-with-location answered HTTP 400`,
    });
  });

  test('asks for an image', async () => {
    accept = undefined;
    await fetchImage(`${origin}/image.png`, allowed());
    expect(accept).toBe('image/*');
  });

  test('https URLs go through TLS, with the same address check', async () => {
    await expect(fetchImage('https://127.0.0.1:1/x.png')).rejects.toMatchObject({
      kind: 'refused_url',
      detail: 'https://127.0.0.1:1/x.png is a private, loopback or link-local address',
    });
    // The plain-HTTP test server does not speak TLS: the handshake fails, so https was used.
    await expect(
      fetchImage(`${origin.replace('http:', 'https:')}/image.png`, {
        allowedOrigins: [origin.replace('http:', 'https:')],
      }),
    ).rejects.toMatchObject({
      kind: 'download_failed',
      detail: expect.stringMatching(
        /^Downloading https:\/\/127\.0\.0\.1:\d+\/image\.png failed: (EPROTO|ERR_SSL_WRONG_VERSION_NUMBER|ECONNRESET)/,
      ),
    });
  });

  test('an answer other than 200 is download_failed naming the status; a redirect without Location too', async () => {
    await expect(fetchImage(`${origin}/missing`, allowed())).rejects.toMatchObject({
      kind: 'download_failed',
      detail: `${origin}/missing answered HTTP 404`,
    });
    await expect(fetchImage(`${origin}/no-location`, allowed())).rejects.toMatchObject({
      kind: 'download_failed',
      detail: `${origin}/no-location answered HTTP 302`,
    });
  });

  test('a private address is refused unless its origin is allowed, also after a redirect', async () => {
    await expect(fetchImage(`${origin}/image.png`)).rejects.toMatchObject({
      kind: 'refused_url',
      detail: `${origin}/image.png is a private, loopback or link-local address`,
    });
    await expect(fetchImage(`${origin}/image.png`, { allowedOrigins: ['http://127.0.0.1:1'] })).rejects.toMatchObject({
      kind: 'refused_url',
    });
    await expect(fetchImage(`${origin}/to-private`, allowed())).rejects.toMatchObject({
      kind: 'refused_url',
      detail: `http://10.0.0.1/x.png is a private, loopback or link-local address (redirected from ${origin}/to-private)`,
    });
    await expect(fetchImage('http://[::1]:9/x.png')).rejects.toMatchObject({
      kind: 'refused_url',
      detail: 'http://[::1]:9/x.png is a private, loopback or link-local address',
    });
  });

  test('a name that resolves to a private address is refused when connecting', async () => {
    const port = new URL(origin).port;
    await expect(fetchImage(`http://localhost:${port}/image.png`)).rejects.toMatchObject({
      kind: 'refused_url',
      detail: expect.stringMatching(
        new RegExp(
          `^http://localhost:${port}/image\\.png resolves to (127\\.0\\.0\\.1|::1), a private, loopback or link-local address$`,
        ),
      ),
    });
    // An allowed origin skips the check.
    expect(
      (await fetchImage(`http://localhost:${port}/image.png`, { allowedOrigins: [`http://localhost:${port}`] })).width,
    ).toBe(3);
  });

  test('only http(s) and data: URLs, also as redirect targets', async () => {
    await expect(fetchImage('ftp://files.example/x.png')).rejects.toMatchObject({
      kind: 'refused_url',
      detail: 'ftp: URLs are not fetched: only http(s) and data:',
    });
    await expect(fetchImage(`${origin}/to-ftp`, allowed())).rejects.toMatchObject({
      kind: 'refused_url',
      detail: `ftp: URLs are not fetched (redirected from ${origin}/to-ftp): only http(s) and data:`,
    });
  });

  test('maxBytes: by the announced length, and by the bytes sent', async () => {
    await expect(fetchImage(`${origin}/announced-large`, { ...allowed(), maxBytes: 1999 })).rejects.toMatchObject({
      kind: 'too_large',
      detail: `${origin}/announced-large is 2000 bytes, over the 1999-byte limit`,
    });
    await expect(fetchImage(`${origin}/chunked-large`, { ...allowed(), maxBytes: 1000 })).rejects.toMatchObject({
      kind: 'too_large',
      detail: `${origin}/chunked-large sent more than the 1000-byte limit`,
    });
    // Exactly the limit passes the size checks (and then is no image).
    await expect(fetchImage(`${origin}/announced-large`, { ...allowed(), maxBytes: 2000 })).rejects.toMatchObject({
      kind: 'not_an_image',
    });
    await expect(fetchImage(`${origin}/chunked-large`, { ...allowed(), maxBytes: 1200 })).rejects.toMatchObject({
      kind: 'not_an_image',
    });
  });

  test('bytes that are no image are not_an_image', async () => {
    await expect(fetchImage(`${origin}/text`, allowed())).rejects.toMatchObject({
      kind: 'not_an_image',
      detail: 'The 19 bytes are not an image in a format the block reads',
    });
    await expect(fetchImage(`${origin}/empty`, allowed())).rejects.toMatchObject({
      kind: 'not_an_image',
      detail: 'The 0 bytes are not an image in a format the block reads',
    });
  });

  test('a format sharp reads but the block does not is named', async () => {
    const svg = `data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>').toString('base64')}`;
    await expect(fetchImage(svg)).rejects.toMatchObject({
      kind: 'not_an_image',
      detail: expect.stringMatching(/^The \d+ bytes are not an image in a format the block reads \(svg\)$/),
    });
  });

  test('timeoutMs bounds the download; it must be a positive whole number of ms', async () => {
    await expect(fetchImage(`${origin}/slow`, { ...allowed(), timeoutMs: 100 })).rejects.toMatchObject({
      kind: 'download_timed_out',
      detail: `Downloading ${origin}/slow took over 100 ms`,
    });
    for (const timeoutMs of [0, -1, 1.5, Number.NaN]) {
      await expect(fetchImage(`${origin}/image.png`, { ...allowed(), timeoutMs })).rejects.toMatchObject({
        kind: 'invalid_input',
        detail: `timeoutMs: must be a positive whole number of ms, not ${timeoutMs}`,
      });
    }
  });

  test("the host's abort stops a download, and one aborted before its turn never starts", async () => {
    const controller = new AbortController();
    const pending = fetchImage(`${origin}/slow`, allowed(), controller.signal);
    setTimeout(() => controller.abort('stopped by the test'), 50);
    await expect(pending).rejects.toMatchObject({
      kind: 'host_aborted',
      detail: expect.stringMatching(/^The download was /),
    });
    await expect(fetchImage(`${origin}/image.png`, allowed(), AbortSignal.abort())).rejects.toMatchObject({
      kind: 'host_aborted',
      detail: expect.stringMatching(/^The download was .+ before it started$/),
    });
  });

  test('a connection that fails is download_failed with its code', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(fetchImage(`${url}/x.png`, { allowedOrigins: [url] })).rejects.toMatchObject({
      kind: 'download_failed',
      detail: `Downloading ${url}/x.png failed: ECONNREFUSED`,
    });
  });

  test('downloads wait their turn at the limiter; data: URIs do not', async () => {
    const turns: string[] = [];
    const limiter: ConcurrencyLimit = (task) => {
      turns.push('turn');
      return task();
    };
    await fetchImage(`${origin}/image.png`, { ...allowed(), limiter });
    await fetchImage(`data:image/png;base64,${png.toString('base64')}`, { limiter });
    expect(turns).toEqual(['turn']);
  });
});

describe('fetchImage of data: URIs', () => {
  const uri = () => `data:image/png;base64,${png.toString('base64')}`;

  test('decoded and described', async () => {
    expect(await fetchImage(uri())).toEqual({
      bytes: png,
      contentType: 'image/png',
      extension: 'png',
      width: 3,
      height: 2,
    });
  });

  test('over maxBytes is too_large; exactly at it passes', async () => {
    const size = dataUriSize(uri());
    await expect(fetchImage(uri(), { maxBytes: size - 1 })).rejects.toMatchObject({
      kind: 'too_large',
      detail: `The data: URI holds more than the ${size - 1}-byte limit`,
    });
    expect((await fetchImage(uri(), { maxBytes: size })).width).toBe(3);
  });

  test('a data: URI that cannot be decoded is refused_url, its reason capitalized', async () => {
    await expect(fetchImage('data:image/png;base64')).rejects.toMatchObject({
      kind: 'refused_url',
      detail: 'The data: URI has no comma before its payload',
    });
    await expect(fetchImage('data:image/png,%E0%A4%A')).rejects.toMatchObject({
      kind: 'refused_url',
      detail: "The data: URI's payload is not valid percent-encoding",
    });
  });
});

describe('dataUriPixelSize', () => {
  test('the size of an image in a data: URI; undefined for URLs and for bytes that are no image', () => {
    expect(dataUriPixelSize(`data:image/png;base64,${png.toString('base64')}`)).toEqual({ width: 3, height: 2 });
    expect(dataUriPixelSize(`data:image/jpeg;base64,${jpeg.toString('base64')}`)).toEqual({ width: 5, height: 4 });
    expect(dataUriPixelSize('https://example.com/x.png')).toBeUndefined();
    expect(dataUriPixelSize('data:image/png;base64,aGVsbG8=')).toBeUndefined();
    expect(dataUriPixelSize('data:image/png;base64')).toBeUndefined();
  });

  test('an image header with no width or no height has no size', () => {
    // A PNG's IHDR holds its width at bytes 16-19 and its height at 20-23.
    for (const offset of [16, 20]) {
      const broken = Buffer.from(png);
      broken.writeUInt32BE(0, offset);
      expect(dataUriPixelSize(`data:image/png;base64,${broken.toString('base64')}`)).toBeUndefined();
    }
  });
});

describe('writeImage', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'write-image-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('named after the first 16 hex digits of its sha256, into a directory it creates', async () => {
    const image = await fetchImage(`data:image/png;base64,${png.toString('base64')}`);
    const target = join(dir, 'nested', 'out');
    const path = await writeImage(image, target);
    expect(path).toMatch(new RegExp(`^${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[0-9a-f]{16}\\.png$`));
    expect(await readFile(path)).toEqual(png);
    expect(await writeImage(image, target)).toBe(path);
  });

  test('by default into out/ of the working directory', async () => {
    const image = await fetchImage(`data:image/png;base64,${png.toString('base64')}`);
    const before = process.cwd();
    process.chdir(dir);
    try {
      const path = await writeImage(image);
      expect(path).toMatch(/^out\/[0-9a-f]{16}\.png$/);
      expect(await readFile(join(dir, path))).toEqual(png);
    } finally {
      process.chdir(before);
    }
  });

  test('a reader never sees the file half-written while the same image is saved again', async () => {
    // The studio saves a result's preview while Save Image writes the same content-named file, and
    // the browser may load it in between: a truncated file would show as a broken image for good.
    const big: FetchedImage = {
      bytes: randomBytes(16 * 1024 * 1024),
      contentType: 'image/png',
      extension: 'png',
      width: 1,
      height: 1,
    };
    const target = join(dir, 'again');
    const path = await writeImage(big, target);
    const sizes = new Set<number>();
    let writing = true;
    const reading = (async () => {
      while (writing) sizes.add((await stat(path)).size);
    })();
    await Promise.all(Array.from({ length: 8 }, () => writeImage(big, target)));
    writing = false;
    await reading;
    expect([...sizes]).toEqual([big.bytes.length]);
    expect(await readdir(target)).toEqual([basename(path)]);
  });

  test('a directory that cannot be made is write_failed with the system code', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const image = await fetchImage(`data:image/png;base64,${png.toString('base64')}`);
    await expect(writeImage(image, join(file, 'sub'))).rejects.toMatchObject({
      kind: 'write_failed',
      detail: expect.stringMatching(/^Could not write .+\.png: (ENOTDIR|EEXIST)$/),
    });
  });
});

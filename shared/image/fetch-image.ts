import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { imageSize } from 'image-size';
import { dataUriSize, parseDataUri } from '../core/data-uri.js';
import { BlockError, stoppedBy } from '../core/errors.js';
import { DEFAULT_TIMEOUT_MS } from '../replicate/types.js';
import { isPrivateAddress, publicOnlyLookup } from './private-address.js';

/** Limits on fetching an image; set by the host, not by graph input. */
export interface FetchOptions {
  /** Largest image accepted, in bytes, downloaded or decoded. Default 50000000 (50 MB). */
  readonly maxBytes?: number;
  /**
   * Origins exempt from the private-address check, e.g. `http://127.0.0.1:40123` for the local
   * emulator or a proxy the host trusts. Default none.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Bound on one download, redirects included, in ms, counted from when it starts (after its
   * turn at `limiter`). Default 600000 (10 minutes, a Replicate run's default timeout).
   */
  readonly timeoutMs?: number;
  /** Where the download waits its turn, e.g. p-limit's `pLimit(8)`; see {@link ConcurrencyLimit}. Default none: it starts at once. */
  readonly limiter?: ConcurrencyLimit;
}

/**
 * Runs a task when a slot is free, so tasks sharing it keep a bound on how many run at once;
 * p-limit's `pLimit(n)` is one.
 */
export type ConcurrencyLimit = <T>(task: () => Promise<T>) => Promise<T>;

/** An image read and checked: its bytes, content type and size in px. */
export interface FetchedImage {
  readonly bytes: Buffer;
  /** e.g. `image/png`, from the bytes themselves, not from the server's header. */
  readonly contentType: string;
  /** File extension without the dot, e.g. `png`, `jpg`. */
  readonly extension: string;
  readonly width: number;
  readonly height: number;
}

const DEFAULT_MAX_BYTES = 50_000_000;
const MAX_REDIRECTS = 5;

/**
 * Reads an image from an http(s) URL or a `data:` URI and checks it: at most `maxBytes`, and an
 * image in a format the blocks read (jpeg, png, webp, gif, avif, tiff), judged by its header.
 *
 * Downloads use node:http(s) rather than fetch so the address check runs on the address
 * actually connected to: hosts resolving to private, loopback or link-local addresses are
 * refused, as are redirects to them (up to 5 redirects, each checked), unless the origin is in
 * `allowedOrigins`. Downloads wait their turn at `limiter`, if any; `data:` URIs do not.
 * @throws {BlockError} `refused_url`, `too_large`, `download_failed`, `download_timed_out`,
 *   `not_an_image`, `host_aborted`; `invalid_input` for a `timeoutMs` that is not a positive
 *   whole number.
 */
export async function fetchImage(url: string, options: FetchOptions = {}, signal?: AbortSignal): Promise<FetchedImage> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
    throw new BlockError('invalid_input', `timeoutMs: must be a positive whole number of ms, not ${timeoutMs}`);
  if (url.startsWith('data:')) {
    // Decoding never waits, so this is the only point an abort can stop it.
    if (signal?.aborted) throw new BlockError('host_aborted', `Reading the data: URI was ${stoppedBy(signal)}`);
    return describeImage(decodeDataUri(url, maxBytes));
  }
  const limiter = options.limiter ?? ((task) => task());
  return describeImage(await limiter(() => download(url, options, maxBytes, timeoutMs, signal)));
}

/** Decodes a `data:` URI's payload, at most `maxBytes`. */
function decodeDataUri(uri: string, maxBytes: number): Buffer {
  if (dataUriSize(uri) > maxBytes)
    throw new BlockError('too_large', `The data: URI holds more than the ${maxBytes}-byte limit`);
  try {
    return parseDataUri(uri).bytes;
  } catch (error) {
    throw new BlockError('refused_url', `${(error as Error).message.replace(/^t/, 'T')}`);
  }
}

async function download(
  url: string,
  options: FetchOptions,
  maxBytes: number,
  timeoutMs: number,
  host?: AbortSignal,
): Promise<Buffer> {
  // Aborted while it waited its turn: nothing to start.
  if (host?.aborted) throw new BlockError('host_aborted', `The download was ${stoppedBy(host)} before it started`);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = host ? AbortSignal.any([host, timeout]) : timeout;
  let target = new URL(url);
  try {
    for (let hop = 0; ; hop++) {
      const response = await get(target, options, signal, hop > 0 ? url : undefined);
      const location = response.headers.location;
      if (response.statusCode! >= 300 && response.statusCode! < 400 && location) {
        response.resume();
        if (hop >= MAX_REDIRECTS)
          throw new BlockError('download_failed', `${url} redirected more than ${MAX_REDIRECTS} times`);
        target = new URL(location, target);
        continue;
      }
      if (response.statusCode !== 200) {
        response.resume();
        throw new BlockError('download_failed', `${target.href} answered HTTP ${response.statusCode}`);
      }
      if (Number(response.headers['content-length']) > maxBytes) {
        response.destroy();
        throw new BlockError(
          'too_large',
          `${target.href} is ${response.headers['content-length']} bytes, over the ${maxBytes}-byte limit`,
        );
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          response.destroy();
          throw new BlockError('too_large', `${target.href} sent more than the ${maxBytes}-byte limit`);
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks);
    }
  } catch (error) {
    if (error instanceof BlockError) throw error;
    if (host?.aborted) throw new BlockError('host_aborted', `The download was ${stoppedBy(host)}`);
    if (timeout.aborted)
      throw new BlockError('download_timed_out', `Downloading ${target.href} took over ${timeoutMs} ms`);
    const { code, address } = error as NodeJS.ErrnoException & { address?: string };
    if (code === 'EPRIVATE')
      throw new BlockError(
        'refused_url',
        `${target.href} resolves to ${address}, a private, loopback or link-local address`,
      );
    throw new BlockError('download_failed', `Downloading ${target.href} failed: ${code ?? (error as Error).message}`);
  }
}

/** One GET, with the address check unless the origin is allowed. */
function get(
  target: URL,
  options: FetchOptions,
  signal: AbortSignal,
  redirectedFrom?: string,
): Promise<IncomingMessage> {
  const via = redirectedFrom ? ` (redirected from ${redirectedFrom})` : '';
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new BlockError('refused_url', `${target.protocol} URLs are not fetched${via}: only http(s) and data:`);
  }
  const trusted = options.allowedOrigins?.includes(target.origin) ?? false;
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  if (!trusted && isIP(literal) && isPrivateAddress(literal)) {
    throw new BlockError('refused_url', `${target.href} is a private, loopback or link-local address${via}`);
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    send(target, { signal, lookup: trusted ? undefined : publicOnlyLookup, headers: { accept: 'image/*' } }, resolve)
      .once('error', reject)
      .end();
  });
}

/** image-size's type names → content type and file extension, for the formats the blocks read. */
const TYPES: Readonly<Record<string, readonly [string, string]>> = Object.assign(
  Object.create(null) as object,
  {
    jpg: ['image/jpeg', 'jpg'],
    png: ['image/png', 'png'],
    webp: ['image/webp', 'webp'],
    gif: ['image/gif', 'gif'],
    avif: ['image/avif', 'avif'],
    tiff: ['image/tiff', 'tiff'],
  } as const,
);

/**
 * Content type and size of image bytes, read from the format's header by image-size: a few KB of
 * pure JavaScript, where a decoder (sharp's libvips, 17 MB of native binaries) would weigh on
 * every host of the library. @throws {BlockError} `not_an_image`.
 */
function describeImage(bytes: Buffer): FetchedImage {
  let found: { type?: string; width?: number; height?: number } | undefined;
  try {
    // A copy owning exactly its bytes: image-size reads past the end of a view into a pooled buffer.
    found = bytes.length ? imageSize(new Uint8Array(bytes)) : undefined;
  } catch {
    found = undefined;
  }
  const type = found?.type && TYPES[found.type];
  if (!type || !found?.width || !found.height) {
    throw new BlockError(
      'not_an_image',
      `The ${bytes.length} bytes are not an image in a format the block reads${found?.type ? ` (${found.type})` : ''}`,
    );
  }
  return { bytes, contentType: type[0], extension: type[1], width: found.width, height: found.height };
}

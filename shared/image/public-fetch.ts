import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { isPrivateAddress, publicOnlyLookup } from './private-address.js';

/** The error a {@link publicFetch} request fails with when its host is or resolves to a private address. */
export class PrivateAddressError extends Error {
  override name = 'PrivateAddressError';
  constructor(
    /** The URL's host, e.g. `db.internal:5432`. */
    readonly host: string,
    /** The private address it is or resolves to. */
    readonly address: string,
  ) {
    super(`${host} is or resolves to ${address}, a private, loopback or link-local address`);
  }
}

// Answers without a body (fetch's Response refuses one for them).
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` over node:http(s) that reaches public addresses only: an IP literal is checked
 * before connecting and a host name at connect time, on every address it resolves to
 * ({@link publicOnlyLookup}), so DNS cannot slip a private, loopback or link-local address past
 * an earlier check. It never follows a redirect: a 3xx is the answer. The body is sent whole
 * (buffered), as the OpenAI-compatible client's JSON and multipart requests are.
 * @throws {PrivateAddressError} for a private address; otherwise rejects like fetch, with a
 *   `TypeError('fetch failed')` whose `cause` is the network error (its `code`, e.g. `ECONNREFUSED`).
 */
export const publicFetch: typeof fetch = (input, init) => checkedFetch(input, init, publicOnlyLookup, isPrivateAddress);

/**
 * {@link publicFetch} with its checks given: `lookup` resolves host names at connect time (and
 * fails with code `EPRIVATE` and the `address` to refuse one), `refuses` judges IP literals.
 * For tests of the transport itself, which reach loopback servers.
 */
export function checkedFetchWith(lookup: LookupFunction, refuses: (address: string) => boolean): typeof fetch {
  return (input, init) => checkedFetch(input, init, lookup, refuses);
}

async function checkedFetch(
  input: Parameters<typeof fetch>[0],
  init: Parameters<typeof fetch>[1],
  lookup: LookupFunction,
  refuses: (address: string) => boolean,
): Promise<Response> {
  const request = new Request(input, init);
  const url = new URL(request.url);
  const literal = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) && refuses(literal)) throw new PrivateAddressError(url.host, literal);
  const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    send(
      url,
      {
        method: request.method,
        headers: Object.fromEntries(request.headers),
        lookup,
        signal: request.signal,
      },
      resolve,
    )
      .once('error', (error: NodeJS.ErrnoException & { address?: string }) =>
        reject(
          error.code === 'EPRIVATE'
            ? new PrivateAddressError(url.host, error.address ?? '?')
            : new TypeError('fetch failed', { cause: error }),
        ),
      )
      .end(body);
  });
  const status = response.statusCode ?? 500;
  const headers = new Headers();
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2)
    headers.append(response.rawHeaders[i]!, response.rawHeaders[i + 1]!);
  if (NULL_BODY.has(status)) response.resume();
  return new Response(NULL_BODY.has(status) ? null : (Readable.toWeb(response) as ReadableStream<Uint8Array>), {
    status,
    statusText: response.statusMessage,
    headers,
  });
}

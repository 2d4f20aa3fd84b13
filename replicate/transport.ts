import { STATUS_CODES } from 'node:http';
import { TimeoutError as KyTimeoutError } from 'ky';
import type { Agent } from 'undici';

/**
 * Per-request options ky hands through to {@link transport}, as options it does not know
 * itself. Given this way rather than as `body` and `signal`, they keep the `Request` ky builds
 * bodiless (ky clones it before every attempt, for retries, which tees a body into web
 * streams) and spare ky's per-request `AbortSignal.any`.
 */
export interface TransportOptions {
  /** The request body, already serialized. */
  readonly sentBody?: string;
  /** Stops the request. */
  readonly stopSignal?: AbortSignal;
  /** Bound on the wait for the answer's headers, and on each pause in its body, in ms. */
  readonly timeoutMs: number;
}

/**
 * undici and the connection pool of every client in the process, with keep-alive (undici's
 * default 4 s idle, raised to 10 s: polls come every 0.5 s to 5 s), so runs reuse connections.
 * Loaded on the first request: compiling undici takes 60-90 ms of CPU, which hosts that only
 * list blocks or export schemas should not pay at startup.
 */
let loaded: Promise<{ request: typeof import('undici').request; pool: Agent }> | undefined;
const undici = () => (loaded ??= import('undici').then(({ Agent: Pool, request }) => ({ request, pool: new Pool({ keepAliveTimeout: 10_000 }) })));

/**
 * The `fetch` ky uses: undici's `request` on {@link pool}, which costs about a quarter of the CPU
 * time of Node's `fetch` per request (measured; docs/performance.md). The answer's body is read
 * whole (API answers are small JSON) into a {@link BufferedResponse}. A request ky built with a body
 * (multipart uploads) goes through `fetch`.
 * Failures look like `fetch`'s: a TypeError whose `cause` is the network error, ky's
 * TimeoutError on a timeout, the signal's reason on abort.
 */
export async function transport(input: Request, init?: Partial<TransportOptions>): Promise<Response> {
  if (input.body || init?.timeoutMs === undefined) return fetch(input, init as RequestInit);
  const { sentBody, stopSignal, timeoutMs } = init;
  const headers: Record<string, string> = {};
  input.headers.forEach((value, name) => {
    headers[name] = value;
  });
  try {
    const { request, pool } = await undici();
    const answer = await request(input.url, {
      method: input.method as 'GET' | 'POST',
      headers,
      body: sentBody,
      signal: stopSignal,
      dispatcher: pool,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await answer.body.text();
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    return new BufferedResponse(input.url, answer.statusCode, responseHeaders, text) as unknown as Response;
  } catch (error) {
    if (stopSignal?.aborted) throw stopSignal.reason;
    const code = (error as { code?: unknown }).code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw new KyTimeoutError(input);
    throw new TypeError('fetch failed', { cause: error });
  }
}

/**
 * The part of a fetch `Response` ky and this client read, over a body already read as text. A
 * standard `Response` would wrap the text in a web ReadableStream again: in a CPU profile of
 * 1000 concurrent runs that stream's setup was a sixth of the client's CPU time, besides its garbage.
 */
class BufferedResponse {
  readonly ok: boolean;
  readonly statusText: string;
  readonly body = null;
  readonly bodyUsed = false;
  readonly redirected = false;
  readonly type = 'basic';

  constructor(
    readonly url: string,
    readonly status: number,
    readonly headers: Headers,
    private readonly content: string,
  ) {
    this.ok = status >= 200 && status < 300;
    this.statusText = STATUS_CODES[status] ?? '';
  }

  async text(): Promise<string> {
    return this.content;
  }

  async json(): Promise<unknown> {
    return JSON.parse(this.content);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return new TextEncoder().encode(this.content).buffer;
  }

  clone(): BufferedResponse {
    return new BufferedResponse(this.url, this.status, this.headers, this.content);
  }
}

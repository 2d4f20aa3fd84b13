import { STATUS_CODES } from 'node:http';
import { TimeoutError as KyTimeoutError } from 'ky';
import type { IncomingHttpHeaders } from 'node:http';
import type { Agent, Dispatcher } from 'undici';

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
 * undici's connection pool, shared by every client in the process, with keep-alive (undici's
 * default 4 s idle, raised to 10 s: polls come every 0.5 s to 5 s), so runs reuse connections.
 * Loaded on the first request, and only the pool's own modules: undici's index also compiles
 * its fetch, WebSocket and cache, 60-90 ms of CPU against about 15 ms for the pool (measured
 * with `node -e`), which no host should pay for requests that never use them. The deep path is
 * why package.json pins undici to its minor version.
 */
let loaded: Promise<Agent> | undefined;
/** undici's `Agent` (the module exports the class of its index); typed here, as undici ships no types for its inner paths. */
const POOL_MODULE: string = 'undici/lib/dispatcher/agent.js';
const connectionPool = () =>
  (loaded ??= import(POOL_MODULE).then(({ default: Pool }: { default: typeof Agent }) => new Pool({ keepAliveTimeout: 10_000 })));

/**
 * The `fetch` ky uses: the request goes to undici's pool through its `dispatch` API, and the
 * answer's body is collected whole (API answers are small JSON) into a {@link BufferedResponse}.
 * Through `dispatch` rather than undici's `request`, no Node stream carries the body: that
 * stream was about a tenth of the client's CPU time with 1000 runs at once (docs/performance.md).
 * A request ky built with a body (multipart uploads) goes through `fetch`.
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
    stopSignal?.throwIfAborted();
    const url = new URL(input.url);
    const answer = await send(await connectionPool(), {
      origin: url.origin,
      path: url.pathname + url.search,
      method: input.method as Dispatcher.HttpMethod,
      headers,
      body: sentBody,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    }, stopSignal);
    return new BufferedResponse(input.url, answer.status, answer.headers, answer.text) as unknown as Response;
  } catch (error) {
    if (stopSignal?.aborted) throw stopSignal.reason;
    const code = (error as { code?: unknown }).code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw new KyTimeoutError(input);
    throw new TypeError('fetch failed', { cause: error });
  }
}

/** One request through `pool`: its final status, headers and body as text. Rejects with undici's error, or on abort. */
function send(pool: Agent, options: Dispatcher.DispatchOptions, signal: AbortSignal | undefined) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; text: string }>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let status = 0;
    let headers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    const onAbort = () => controller?.abort(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    pool.dispatch(options, {
      onRequestStart(started) {
        controller = started;
        if (signal?.aborted) onAbort();
      },
      onResponseStart(_, statusCode, responseHeaders) {
        // Called again for the final answer after any 1xx, which it overwrites.
        status = statusCode;
        headers = responseHeaders;
      },
      onResponseData(_, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        signal?.removeEventListener('abort', onAbort);
        resolve({ status, headers, text: Buffer.concat(chunks).toString('utf8') });
      },
      onResponseError(_, error) {
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      },
    });
  });
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
  #headers: Headers | undefined;

  constructor(
    readonly url: string,
    readonly status: number,
    private readonly rawHeaders: IncomingHttpHeaders,
    private readonly content: string,
  ) {
    this.ok = status >= 200 && status < 300;
    this.statusText = STATUS_CODES[status] ?? '';
  }

  /** Built when first read: most answers are read for their body alone. */
  get headers(): Headers {
    if (this.#headers) return this.#headers;
    this.#headers = new Headers();
    for (const [name, value] of Object.entries(this.rawHeaders)) {
      if (value !== undefined) this.#headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    return this.#headers;
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
    return new BufferedResponse(this.url, this.status, this.rawHeaders, this.content);
  }
}

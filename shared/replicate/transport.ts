import { STATUS_CODES } from 'node:http';
import { TimeoutError as KyTimeoutError } from 'ky';

/**
 * Per-request options ky hands through to {@link transport}, as options it does not know
 * itself. Given this way rather than as `headers`, `body` and `signal`, they keep the `Request`
 * ky builds down to a method and a URL: ky merges headers into new `Headers` objects several
 * times per request and copies them into its `Request` and each clone (about 0.25 ms per
 * request in a fresh process), clones the `Request` before every attempt for its retries (which
 * tees a body into web streams), and adds an `AbortSignal.any` for a signal.
 */
export interface TransportOptions {
  /** Every header the request is sent with, by name. The `Request`'s own headers are not sent, but on the fallback to `fetch`. */
  readonly sentHeaders: Readonly<Record<string, string>>;
  /** The request body, already serialized. */
  readonly sentBody?: string;
  /** Stops the request. */
  readonly stopSignal?: AbortSignal;
  /** Bound on the wait for the answer's headers, and on each pause in its body, in ms. */
  readonly timeoutMs: number;
}

/**
 * The legacy ("version 1") `Dispatcher` API of undici: the one every undici since 5.x accepts,
 * Node's own copy included. Declared here, as Node ships no types for its copy.
 */
interface Dispatcher {
  dispatch(
    options: {
      origin: string;
      path: string;
      method: string;
      headers: Readonly<Record<string, string>>;
      body?: string;
      headersTimeout: number;
      bodyTimeout: number;
    },
    handler: {
      onConnect(abort: (reason?: Error) => void): void;
      onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
      onData(chunk: Buffer): boolean;
      onComplete(trailers: unknown): void;
      onError(error: Error): void;
    },
  ): boolean;
}

/** Where undici keeps the process's dispatcher for the version 1 API (undici's lib/global.js, from 5.x to 8.x). */
const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

/**
 * The process's undici dispatcher: the keep-alive connection pool `fetch` itself uses, or the
 * one a host set with undici's `setGlobalDispatcher` (a proxy, a mock), which then carries these
 * requests as it carries `fetch`'s. Node creates it when it loads its copy of undici, which
 * reading `Headers` does (ky's `Request` has already loaded it by the time a request is sent).
 * Using Node's copy rather than a second one from npm keeps that second copy's memory and
 * compile time out of the process (docs/performance.md).
 */
function globalDispatcher(): Dispatcher | undefined {
  void globalThis.Headers;
  return (globalThis as Record<symbol, Dispatcher | undefined>)[GLOBAL_DISPATCHER];
}

/**
 * The `fetch` ky uses: the request goes to the process's undici dispatcher (see
 * {@link globalDispatcher}) through its `dispatch` API, and the answer's body is collected whole
 * (API answers are small JSON) into a {@link BufferedResponse}. Through `dispatch` rather than
 * `fetch`, no web stream carries the body: those streams were about a tenth of the client's CPU
 * time with 1000 runs at once (docs/performance.md). A request ky built with a body (multipart
 * uploads) goes through `fetch`, with both its own headers and `sentHeaders`.
 * Failures look like `fetch`'s: a TypeError whose `cause` is the network error, ky's
 * TimeoutError on a timeout, the signal's reason on abort.
 */
export async function transport(input: Request, init: TransportOptions): Promise<Response> {
  const { sentHeaders, sentBody, stopSignal, timeoutMs } = init;
  const dispatcher = globalDispatcher();
  if (input.body || !dispatcher) {
    // Both the Request's headers (a multipart body's content type) and the ones given.
    const headers = new Headers(input.headers);
    for (const [name, value] of Object.entries(sentHeaders)) headers.set(name, value);
    return fetch(input, { ...(init as RequestInit), headers });
  }
  try {
    stopSignal?.throwIfAborted();
    // A Request's URL is absolute and has no user info (the Request constructor refuses it), so
    // its origin ends at the first "/" after the scheme's; cheaper than parsing it again as a URL.
    const url = input.url;
    const pathAt = url.indexOf('/', url.indexOf('//') + 2);
    const answer = await send(
      dispatcher,
      {
        origin: url.slice(0, pathAt),
        path: url.slice(pathAt).replace(/#.*/s, ''),
        method: input.method,
        headers: sentHeaders,
        body: sentBody,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      },
      stopSignal,
    );
    return new BufferedResponse(input.url, answer.status, answer.headers, answer.text) as unknown as Response;
  } catch (error) {
    if (stopSignal?.aborted) throw stopSignal.reason;
    const code = (error as { code?: unknown }).code;
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') throw new KyTimeoutError(input);
    throw new TypeError('fetch failed', { cause: error });
  }
}

/**
 * One request through `dispatcher`: its final status, raw headers (name, value, name, value...)
 * and body as text. Rejects with undici's error, or on abort.
 */
function send(dispatcher: Dispatcher, options: Parameters<Dispatcher['dispatch']>[0], signal: AbortSignal | undefined) {
  return new Promise<{ status: number; headers: Buffer[]; text: string }>((resolve, reject) => {
    let abort: ((reason?: Error) => void) | undefined;
    let status = 0;
    let headers: Buffer[] = [];
    const chunks: Buffer[] = [];
    const onAbort = () => abort?.(signal!.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    dispatcher.dispatch(options, {
      onConnect(abortRequest) {
        abort = abortRequest;
        if (signal?.aborted) onAbort();
      },
      onHeaders(statusCode, rawHeaders) {
        // Called again for the final answer after any 1xx, which it overwrites.
        status = statusCode;
        headers = rawHeaders;
        return true;
      },
      onData(chunk) {
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        signal?.removeEventListener('abort', onAbort);
        resolve({ status, headers, text: Buffer.concat(chunks).toString('utf8') });
      },
      onError(error) {
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
    private readonly rawHeaders: Buffer[],
    private readonly content: string,
  ) {
    this.ok = status >= 200 && status < 300;
    this.statusText = STATUS_CODES[status] ?? '';
  }

  /** Built when first read: most answers are read for their body alone. */
  get headers(): Headers {
    if (this.#headers) return this.#headers;
    this.#headers = new Headers();
    for (let i = 0; i + 1 < this.rawHeaders.length; i += 2) {
      this.#headers.append(this.rawHeaders[i]!.toString('latin1'), this.rawHeaders[i + 1]!.toString('latin1'));
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

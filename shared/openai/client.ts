import ky, { type KyInstance } from 'ky';
import pTimeout, { TimeoutError } from 'p-timeout';
import { z } from 'zod';
import { toDataUri } from '../core/data-uri.js';
import { BlockError } from '../core/errors.js';
import { checkBaseUrl } from '../core/http-url.js';
import { formatIssues } from '../core/issues.js';
import { redact } from '../core/redact.js';
import { toBlockError } from './api-errors.js';
import { imageLinks, quoteStart } from './chat-images.js';
import { retryOptions } from './http.js';
import { MAX_ANSWER_BYTES, readAnswer } from './read-answer.js';
import {
  chatResponseSchema,
  imagesResponseSchema,
  type ChatRequest,
  type EditRequest,
  type GeneratedImage,
  type GenerateRequest,
} from './types.js';

/** How a client reaches an OpenAI-compatible API. */
export interface OpenAiClientOptions {
  /** The provider's API key, sent as `Authorization: Bearer`. Never appears in an error. */
  readonly apiKey: string;
  /**
   * The provider's OpenAI-compatible base URL, e.g. `https://<aggregator>/v1`, without
   * `user:pass@`. Required. The key goes to this URL's origin only: redirects are never followed.
   */
  readonly baseUrl: string;
  /** Bound on one call, retries and waits included, in ms, at most 86400000. Default 600000 (10 minutes). */
  readonly timeoutMs?: number;
  /**
   * How requests are sent, in place of the global `fetch` (e.g. one that checks the address it
   * connects to). It gets ky's `Request`; it must not follow redirects. Default the global `fetch`.
   */
  readonly fetch?: typeof fetch;
}

/** Per-call options. */
export interface OpenAiCallOptions {
  /** Aborting it stops the call. These APIs have no cancel: the provider may still make, and bill, the images. */
  readonly signal?: AbortSignal;
}

/**
 * A client of an OpenAI-compatible Images API (and chat completions) as API aggregators serve
 * Flux models. Every call makes images and may bill them: it is sent again only after a 429
 * with `Retry-After` or a refused connection ({@link retryOptions}), and is bounded by
 * `timeoutMs` as a whole.
 * Each method throws a {@link BlockError} of kind `provider_unauthorized`, `provider_rejected`,
 * `provider_quota`, `provider_error`, `safety_filter`, `rate_limited`, `no_image`,
 * `unreachable`, `timed_out` or `host_aborted`, which never holds the API key.
 */
export interface OpenAiClient {
  /** The base URL requests go to. */
  readonly baseUrl: string;
  /** `POST {baseUrl}/images/generations` (JSON). @returns the images of the answer's `data`, in order. */
  generate(request: GenerateRequest, options?: OpenAiCallOptions): Promise<GeneratedImage[]>;
  /** `POST {baseUrl}/images/edits` (multipart: the fields, then one `image` part per reference image). */
  edit(request: EditRequest, options?: OpenAiCallOptions): Promise<GeneratedImage[]>;
  /** `POST {baseUrl}/chat/completions` with one user message; the images are the links in the answer's text. */
  chat(request: ChatRequest, options?: OpenAiCallOptions): Promise<GeneratedImage[]>;
}

const optionsSchema = z.object({
  baseUrl: z.string().superRefine(checkBaseUrl),
  timeoutMs: z.number().int().positive().max(86_400_000).default(600_000),
});

// What an API key can hold: visible ASCII. Anything else would break or inject into the header.
const KEY_CHARACTERS = /^[\x21-\x7e]+$/;

/** Media types of the image formats providers answer with, by their first bytes. */
const SIGNATURES: ReadonlyArray<readonly [string, (b: Buffer) => boolean]> = [
  ['image/png', (b) => b.subarray(0, 4).toString('latin1') === '\x89PNG'],
  ['image/jpeg', (b) => b[0] === 0xff && b[1] === 0xd8],
  [
    'image/webp',
    (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  ],
  ['image/gif', (b) => b.subarray(0, 3).toString('latin1') === 'GIF'],
];

/**
 * An OpenAI-compatible client for one API key and base URL. Cheap to make.
 * @throws {BlockError} `invalid_input` for a missing or malformed key or bad options.
 */
export function createOpenAiClient({ apiKey: rawKey, fetch: send, ...options }: OpenAiClientOptions): OpenAiClient {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new BlockError(
      'invalid_input',
      `Invalid OpenAI-compatible client options: ${formatIssues(parsed.error.issues, 'options')}`,
    );
  const apiKey = rawKey?.trim();
  if (!apiKey)
    throw new BlockError('invalid_input', 'credentials: no API key for the OpenAI-compatible provider was given');
  if (!KEY_CHARACTERS.test(apiKey)) {
    throw new BlockError(
      'invalid_input',
      'credentials: the API key holds characters no key has (spaces, line breaks or non-ASCII)',
    );
  }
  const { timeoutMs } = parsed.data;
  const baseUrl = parsed.data.baseUrl.replace(/\/+$/, '');
  // No per-request timeout: an image takes as long as it takes, within the call's bound.
  // Redirects are answers, not followed: one to another origin would take the key and the prompt there.
  const http: KyInstance = ky.create({
    prefixUrl: baseUrl,
    headers: { Authorization: `Bearer ${apiKey}` },
    timeout: false,
    redirect: 'manual',
    ...(send && { fetch: send }),
  });

  /** Runs `work` bounded by `timeoutMs` and `signal`; every failure a redacted BlockError. */
  async function bounded<T>(work: (stop: AbortSignal) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) throw new BlockError('host_aborted', 'The run was stopped by the host before it started');
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const end = Date.now() + timeoutMs;
    const pending = work(stop.signal);
    let late: NodeJS.Timeout | undefined;
    try {
      return await pTimeout(pending, { milliseconds: timeoutMs, signal });
    } catch (error) {
      // Read the failure (an HTTP error's body) before aborting: the abort cancels open bodies.
      // pTimeout has settled, so the deadline bounds that read by aborting it (the host's abort too).
      late = setTimeout(onAbort, Math.max(0, end - Date.now())).unref();
      const unbilled =
        ' The request was abandoned; this API has no cancel, so the provider may still make and bill the images';
      const failure =
        error instanceof TimeoutError
          ? new BlockError('timed_out', `The run timed out after ${timeoutMs} ms.${unbilled}`)
          : signal?.aborted
            ? new BlockError('host_aborted', `The run was stopped by the host.${unbilled}`)
            : await toBlockError(error, baseUrl);
      stop.abort();
      await pending.catch(() => undefined);
      throw new BlockError(failure.kind, redact(failure.detail, apiKey));
    } finally {
      clearTimeout(late);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** POSTs `body` (JSON or a form) to `path` and returns the answer's JSON. */
  async function post(path: string, body: object, stop: AbortSignal): Promise<unknown> {
    const send = body instanceof FormData ? { body } : { json: body };
    const response = await http.post(path, { ...send, ...retryOptions(Date.now() + timeoutMs), signal: stop });
    const { text, complete } = await readAnswer(response, MAX_ANSWER_BYTES);
    if (!complete) {
      throw new BlockError(
        'provider_error',
        `The OpenAI-compatible API at ${baseUrl} answered POST /${path} with more than ${MAX_ANSWER_BYTES} bytes, the most read from it`,
      );
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new BlockError(
        'provider_error',
        `The OpenAI-compatible API at ${baseUrl} answered POST /${path} with something that is not JSON: ${quoteStart(text, 100)}`,
      );
    }
  }

  /** The images of an `ImagesResponse`, `b64_json` entries as `data:` URIs. */
  function images(body: unknown, path: string): GeneratedImage[] {
    const answer = imagesResponseSchema.safeParse(body);
    if (!answer.success) {
      throw new BlockError(
        'provider_error',
        `The OpenAI-compatible API at ${baseUrl} answered POST /${path} with JSON that is not an images answer (${formatIssues(answer.error.issues, 'body')})`,
      );
    }
    if (!answer.data.data.length)
      throw new BlockError('no_image', `The OpenAI-compatible API at ${baseUrl} answered POST /${path} with no images`);
    return answer.data.data.map((entry, i) => {
      const revisedPrompt = entry.revised_prompt ?? undefined;
      if (entry.b64_json) {
        const bytes = Buffer.from(entry.b64_json, 'base64');
        const type = SIGNATURES.find(([, matches]) => matches(bytes))?.[0] ?? 'image/png';
        return { url: toDataUri(bytes, type), revisedPrompt };
      }
      if (entry.url) return { url: entry.url, revisedPrompt };
      throw new BlockError(
        'provider_error',
        `The OpenAI-compatible API at ${baseUrl} answered POST /${path} with image ${i} having neither url nor b64_json`,
      );
    });
  }

  return {
    baseUrl,
    generate(request, { signal } = {}) {
      return bounded(
        async (stop) => images(await post('images/generations', request, stop), 'images/generations'),
        signal,
      );
    },
    edit({ images: parts, ...fields }, { signal } = {}) {
      return bounded(async (stop) => {
        const form = new FormData();
        for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.append(name, String(value));
        for (const { blob, filename } of parts) form.append('image', blob, filename);
        return images(await post('images/edits', form, stop), 'images/edits');
      }, signal);
    },
    chat({ model, content }, { signal } = {}) {
      return bounded(async (stop) => {
        const body = await post('chat/completions', { model, messages: [{ role: 'user', content }] }, stop);
        const answer = chatResponseSchema.safeParse(body);
        if (!answer.success) {
          throw new BlockError(
            'provider_error',
            `The OpenAI-compatible API at ${baseUrl} answered POST /chat/completions with JSON that is not a chat completion (${formatIssues(answer.error.issues, 'body')})`,
          );
        }
        const message = answer.data.choices[0]!.message.content;
        const text = typeof message === 'string' ? message : (message ?? []).map((part) => part.text ?? '').join('\n');
        const links = imageLinks(text);
        if (!links.length)
          throw new BlockError(
            'no_image',
            `The chat answer holds no image link (markdown image or URL): ${quoteStart(text)}`,
          );
        return links.map((url) => ({ url }));
      }, signal);
    },
  };
}

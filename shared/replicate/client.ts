import pTimeout, { TimeoutError } from 'p-timeout';
import { z } from 'zod';
import { BlockError, stoppedBy } from '../core/errors.js';
import { checkBaseUrl } from '../core/http-url.js';
import { formatIssues } from '../core/issues.js';
import { redact } from '../core/redact.js';
import { toBlockError } from './api-errors.js';
import { ReplicateHttp, type RequestKind } from './http.js';
import { FILE_LIMIT_TEXT, fileSchema, MAX_FILE_BYTES, type ReplicateFile, type Upload } from './files.js';
import { findPredictions } from './find-predictions.js';
import { inputSizeProblem } from './input-size.js';
import type { Pacer } from './pacer.js';
import { PredictionRun, readPrediction, type RunSettings, type WebhookTarget } from './prediction-run.js';
import type { WebhookReceiver } from './webhooks.js';
import {
  DEFAULT_BASE_URL,
  DEFAULT_TIMEOUT_MS,
  modelSchema,
  type Prediction,
  type PredictionRequest,
  type ProgressEvent,
  type ReplicateModel,
} from './types.js';

/** How a client reaches Replicate and how long a run waits. Every field but `token` is optional. */
export interface ReplicateClientOptions {
  /** The Replicate API token, sent as `Authorization: Bearer`. Never appears in an error. */
  readonly token: string;
  /** Replicate API base URL, or a Replicate-compatible proxy's (e.g. `https://<proxy>/replicate/v1`), without `user:pass@`. Default {@link DEFAULT_BASE_URL}. */
  readonly baseUrl?: string;
  /**
   * Bound on one run, create to terminal status, in ms, at most 86400000 (24 h: Replicate's
   * longest `Cancel-After`, which the client sends with the same length). Default 600000 (10 minutes).
   */
  readonly timeoutMs?: number;
  /**
   * Longest sync wait asked of Replicate on create (`Prefer: wait=n`), in s, 1-60. Default 60,
   * or 1 for runs with an `onProgress` callback, so their status shows within about a second
   * of each change (then polled every `pollIntervalMs`, as the official client's polling mode).
   */
  readonly waitSeconds?: number;
  /**
   * Polling interval after the sync wait, in ms, for the first 30 s of polling; after that it
   * grows 1.5x per poll. Default 500, as the official client polls.
   */
  readonly pollIntervalMs?: number;
  /** Longest polling interval, in ms. Default 5000. */
  readonly maxPollIntervalMs?: number;
  /**
   * A rate-limit budget shared with other processes (e.g. all workers of a token, in Redis):
   * asked for a turn before every request and told of every 429. Default none: only the
   * token's in-process gates pace requests.
   */
  readonly pacer?: Pacer;
  /**
   * Be told instead of polling: each prediction is created with `webhook: url` and
   * `webhook_events_filter: ["start", "logs", "completed"]`, and the run waits for the
   * `completed` delivery that `receiver` ({@link createWebhookReceiver}) verifies and routes to
   * it; `logs` deliveries become progress events. A safety poll (every 30 s, and once just
   * before the timeout) rescues a lost delivery. `url` is what Replicate calls: public, e.g.
   * a tunnel to the receiver. Timeout, abort and cancel work as without. Default: polling.
   */
  readonly webhook?: { readonly url: string; readonly receiver: WebhookReceiver };
}

/** Per-call options: the caller's abort signal and a progress callback. */
export interface CallOptions {
  /** Aborting it stops the call; a running prediction is canceled first. */
  readonly signal?: AbortSignal;
  /** Called when the prediction's status or progress percent changes. */
  readonly onProgress?: (event: ProgressEvent) => void;
  /**
   * Called by `run` before it creates the prediction, to record the intent (e.g. in a job that
   * another process may pick up after a crash). Returns the id of a prediction to wait for
   * instead of creating one (one this run created before), or undefined to create it. A
   * rejection stops the run before anything is created.
   */
  readonly beforeCreate?: (request: PredictionRequest) => Promise<string | undefined> | string | undefined;
  /**
   * Called by `run` with the prediction as soon as its create answers (before the first poll),
   * to record its id; awaited. Not called for a prediction `beforeCreate` resumed.
   */
  readonly onCreated?: (prediction: Prediction) => Promise<void> | void;
  /**
   * Called once with the prediction as the run saw it end (`succeeded`, `failed`, `canceled` or
   * `aborted`: its `output` and `metrics.predict_time`, s), before the run returns or rejects;
   * for working out what it cost (`actualCost`). Not called when the run stopped waiting first
   * (timeout, abort, detach). Must not throw.
   */
  readonly onCompleted?: (prediction: Prediction) => void;
  /**
   * Aborting it stops waiting WITHOUT canceling the prediction, which runs on (another process
   * may resume it with {@link ReplicateClient.wait}); the call rejects with `host_aborted`.
   * For a worker that shuts down or loses its job. `signal`, by contrast, cancels.
   */
  readonly detach?: AbortSignal;
}

/** One request to an API path the client has no method of its own for. */
export interface ApiRequest {
  /** HTTP method. Default `GET`. `QUERY` is the safe method with a body (Replicate's model search). */
  readonly method?: 'GET' | 'POST' | 'QUERY';
  /** Sent as JSON (`content-type: application/json`). */
  readonly json?: unknown;
  /** Sent as `text/plain` (the body of QUERY /v1/models). */
  readonly text?: string;
  /** Query string parameters. */
  readonly searchParams?: Readonly<Record<string, string>>;
  /**
   * `create` for a request that makes something billable (a training): never sent twice unless
   * its connection was refused or it met a 429. Default `idempotent`: retried like polls.
   */
  readonly kind?: RequestKind;
  readonly signal?: AbortSignal;
}

/** A Replicate API client: runs predictions to the end, looks up models, cancels predictions. */
export interface ReplicateClient {
  /** The base URL requests go to. */
  readonly baseUrl: string;
  /**
   * The client's `webhook` option, when it has one, with the loader of the receiver's signing
   * secret (GET /v1/webhooks/default/secret, once per receiver): for waits of its own, such as
   * trainings', by the same deliveries. Undefined when the client polls.
   */
  readonly webhook?: WebhookTarget & { readonly loadSecret: () => Promise<string> };
  /**
   * Runs one prediction to a terminal status and returns it when it succeeded.
   *
   * Creates it with `Prefer: wait` (Replicate API: POST /v1/models/{owner}/{name}/predictions,
   * or POST /v1/predictions with `version` for version ids), then polls GET
   * /v1/predictions/{id}, every `pollIntervalMs` for 30 s and then less often. The whole run,
   * retries and rate-limit waits included, is bounded by `timeoutMs`; the prediction also
   * carries a `Cancel-After` header of that length, so Replicate stops it even if this process
   * dies. A create is never sent twice unless its connection was refused or it met a 429. On
   * timeout, abort, or any failure while it runs, the prediction is canceled (POST
   * /v1/predictions/{id}/cancel) before this rejects; a create whose answer was lost is found
   * again in GET /v1/predictions by its input and canceled.
   * An input over `MAX_INPUT_JSON_BYTES` (1 MiB of JSON, `data:` URIs not counted: they are
   * uploaded) is refused with `invalid_input` before any request.
   * @returns the prediction with status `succeeded` (its `output` is model-specific).
   * @throws {BlockError} of a kind in `ERROR_KINDS` (unauthorized, not_found, rejected_input,
   *   rate_limited, model_failed, safety_filter, canceled, aborted, timed_out, host_aborted,
   *   output_deleted, unreachable, bad_response, api_error, internal). Never holds the token.
   */
  run(request: PredictionRequest, options?: CallOptions): Promise<Prediction>;
  /**
   * Waits for an existing prediction (e.g. one created by a process that crashed) as `run`
   * waits for the one it created: GET /v1/predictions/{id} until terminal, with the same
   * result, errors, timeout and cancel on abort. Never creates a prediction.
   */
  wait(id: string, options?: Omit<CallOptions, 'beforeCreate' | 'onCreated'>): Promise<Prediction>;
  /**
   * The predictions of `request`'s model with its input, created after `createdAfter` (an
   * ISO 8601 time), newest first, any status (Replicate API: GET /v1/predictions, its first
   * page of 100). Finds a prediction whose create answer was never recorded.
   */
  findPredictions(
    request: PredictionRequest,
    createdAfter: string,
    options?: Pick<CallOptions, 'signal'>,
  ): Promise<Prediction[]>;
  /**
   * Looks up a model (Replicate API: GET /v1/models/{owner}/{name}): whether it is official, and
   * its latest version with that version's `openapi_schema`. Retried and bounded like polls.
   * @param model `owner/name`.
   * @throws {BlockError} `not_found` for an unknown model, and the other kinds of {@link run}.
   */
  getModel(model: string, options?: Pick<CallOptions, 'signal'>): Promise<ReplicateModel>;
  /**
   * Cancels a prediction (Replicate API: POST /v1/predictions/{id}/cancel); retried like polls.
   * @returns the prediction as the cancel answered it.
   * @throws {BlockError} as {@link getModel}.
   */
  cancel(id: string, options?: Pick<CallOptions, 'signal'>): Promise<Prediction>;
  /**
   * Uploads a file (Replicate API: POST /v1/files, multipart `content`, `filename`, `type`);
   * its `urls.get` is accepted as a model input. `run` uploads every `data:` URI input over
   * 256 KB this way by itself.
   * @param content under 100 MB (100,000,000 bytes).
   * @throws {BlockError} `invalid_input` at 100 MB or more, before any request; `request_rejected`
   *   when Replicate refuses it, and the kinds of {@link getModel}.
   */
  uploadFile(content: Blob, filename: string, options?: Pick<CallOptions, 'signal'>): Promise<ReplicateFile>;
  /**
   * Sends one request to `path` (relative to the base URL, e.g. `search` or `trainings/{id}`),
   * with the token, rate gate, retry policy of its `kind` and the client's timeout, and returns
   * its JSON answer (unchecked: callers check its shape). For the endpoints without a method
   * here: search, trainings, models create.
   * @throws {BlockError} as {@link getModel}: `not_found` for a 404, never holding the token.
   */
  request(path: string, request?: ApiRequest): Promise<unknown>;
}

const optionsSchema = z.object({
  baseUrl: z.string().superRefine(checkBaseUrl).default(DEFAULT_BASE_URL),
  // Replicate's Cancel-After takes 5 s to 24 h; the run's bound is sent as it.
  timeoutMs: z.number().int().positive().max(86_400_000).default(DEFAULT_TIMEOUT_MS),
  waitSeconds: z.number().int().min(1).max(60).default(60),
  pollIntervalMs: z.number().int().positive().default(500),
  maxPollIntervalMs: z.number().int().positive().default(5_000),
  webhook: z
    .object({
      url: z.string().refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL'),
      receiver: z.custom<WebhookReceiver>(
        (r) => typeof (r as WebhookReceiver | undefined)?.subscribe === 'function',
        'must be a receiver from createWebhookReceiver',
      ),
    })
    .optional(),
});

/** Bound on one upload, in ms: 100 MB at about 1.5 MB/s. */
const UPLOAD_TIMEOUT_MS = 120_000;

// What an API token can hold: visible ASCII. Anything else would break or inject into the header.
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

/** What a client's calls share: its HTTP plumbing and the bounds of every call. */
interface ClientCore {
  readonly http: ReplicateHttp;
  readonly baseUrl: string;
  /** Redacted from every error. */
  readonly token: string;
  /** Bound on each call, in ms. */
  readonly timeoutMs: number;
}

/**
 * A Replicate client for one token. Cheap to make; clients of one token share its rate gates
 * process-wide (see `rate-gate.ts`).
 * @throws {BlockError} `invalid_input` for options out of range, or a missing or malformed token.
 */
export function createReplicateClient({ token: rawToken, pacer, ...options }: ReplicateClientOptions): ReplicateClient {
  const parsed = parseOptions(options);
  const token = checkToken(rawToken);
  const { baseUrl, timeoutMs } = parsed;
  const core: ClientCore = { http: new ReplicateHttp(baseUrl, token, pacer), baseUrl, token, timeoutMs };
  const settings = runSettings(core, parsed);
  const upload = (signal: AbortSignal) => uploader(core, signal);
  return {
    baseUrl,
    ...(settings.webhook && { webhook: settings.webhook }),
    uploadFile(content, filename, { signal } = {}) {
      return bounded(core, (stop) => upload(stop)(content, filename), signal);
    },
    run(request, { signal, detach, ...hooks } = {}) {
      // Before anything is sent: an input Replicate would refuse with 413 (or bill huge logs for).
      const tooLarge = inputSizeProblem(request.input);
      if (tooLarge) return Promise.reject(new BlockError('invalid_input', `input: ${tooLarge}`));
      // A long sync wait would hide every status change until the end.
      const waitSeconds = hooks.onProgress && options.waitSeconds === undefined ? 1 : settings.waitSeconds;
      const run = new PredictionRun(core.http, request, { ...settings, waitSeconds }, upload, hooks);
      return boundedRun(core, run, signal, detach);
    },
    wait(id, { signal, detach, onProgress, onCompleted } = {}) {
      // The model and input are only read to find a lost create, which a wait never sends.
      const run = new PredictionRun(core.http, { model: '', input: {} }, settings, upload, { onProgress, onCompleted });
      return boundedRun(core, run, signal, detach, id);
    },
    findPredictions(request, createdAfter, { signal } = {}) {
      return bounded(core, (stop) => findPredictions(core.http, request, createdAfter, stop, deadline(core)), signal);
    },
    getModel(model, { signal } = {}) {
      const path = `models/${model.split('/').map(encodeURIComponent).join('/')}`;
      return bounded(core, (stop) => getModel(core, path, stop), signal);
    },
    cancel(id, { signal } = {}) {
      return bounded(core, (stop) => cancelPrediction(core, id, stop), signal);
    },
    request(path, { signal, ...request } = {}) {
      return bounded(core, (stop) => apiRequest(core, path, request, stop), signal);
    },
  };
}

/** The options with their defaults. @throws {BlockError} `invalid_input` naming each bad option. */
function parseOptions(options: Omit<ReplicateClientOptions, 'token' | 'pacer'>): z.infer<typeof optionsSchema> {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success)
    throw new BlockError('invalid_input', `Invalid runner options: ${formatIssues(parsed.error.issues, 'runner')}`);
  return parsed.data;
}

/** The token, trimmed. @throws {BlockError} `invalid_input` when it is missing or holds what no token holds. */
function checkToken(rawToken: string | undefined): string {
  const token = rawToken?.trim();
  if (!token) throw new BlockError('invalid_input', 'credentials: no Replicate API token was given');
  if (!TOKEN_CHARACTERS.test(token)) {
    throw new BlockError(
      'invalid_input',
      'credentials: the Replicate API token holds characters no token has (spaces, line breaks or non-ASCII)',
    );
  }
  return token;
}

/** What every prediction run of the client runs with; with a webhook, how to load its signing secret. */
function runSettings(core: ClientCore, parsed: z.infer<typeof optionsSchema>): RunSettings {
  const { webhook } = parsed;
  return { ...parsed, webhook: webhook && { ...webhook, loadSecret: () => loadWebhookSecret(core) } };
}

/** Replicate API: GET /v1/webhooks/default/secret answers `{"key": "whsec_..."}`; the receiver caches it. */
async function loadWebhookSecret({ http, baseUrl, timeoutMs }: ClientCore): Promise<string> {
  // Bounded on its own: runs share the load, so no run's signal stops it (unbounded, a hang took 5 x 30 s).
  const options = http.options('idempotent', deadline({ timeoutMs }), { signal: AbortSignal.timeout(timeoutMs) });
  const body = await http.ky.get('webhooks/default/secret', options).json<{ key?: unknown }>();
  if (typeof body.key !== 'string')
    throw new BlockError(
      'bad_response',
      `The Replicate API at ${baseUrl} answered GET /webhooks/default/secret without a key`,
    );
  return body.key;
}

/** A call's deadline: `timeoutMs` from now. */
const deadline = ({ timeoutMs }: Pick<ClientCore, 'timeoutMs'>) => ({ deadline: Date.now() + timeoutMs, timeoutMs });

/**
 * Runs `work` bounded by `timeoutMs` and `signal`, every failure a redacted BlockError;
 * `cleanup` adds to its message. Aborting `detach` stops the work without `cleanup`.
 */
async function bounded<T>(
  { baseUrl, token, timeoutMs }: ClientCore,
  work: (stop: AbortSignal) => Promise<T>,
  signal: AbortSignal | undefined,
  cleanup?: () => Promise<string>,
  detach?: AbortSignal,
): Promise<T> {
  if (signal?.aborted) throw new BlockError('host_aborted', `The run was ${stoppedBy(signal)} before it started`);
  if (detach?.aborted) throw new BlockError('host_aborted', 'The run was detached by the host before it started');
  // One controller stops the work on timeout, failure or host abort. A listener, not
  // AbortSignal.any: signals are costly to create in Node 20, and this runs per prediction.
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  detach?.addEventListener('abort', onAbort, { once: true });
  const pending = work(stop.signal);
  try {
    return await pTimeout(pending, { milliseconds: timeoutMs, signal });
  } catch (error) {
    // Read the failure (an HTTP error's body) before aborting: the abort cancels open bodies.
    if (detach?.aborted && !signal?.aborted) {
      await pending.catch(() => undefined);
      throw new BlockError('host_aborted', 'The host stopped waiting for the run; its prediction was left running');
    }
    const failure =
      error instanceof TimeoutError
        ? new BlockError('timed_out', `The run timed out after ${timeoutMs} ms`)
        : signal?.aborted
          ? new BlockError('host_aborted', `The run was ${stoppedBy(signal)}`)
          : await toBlockError(error, baseUrl);
    stop.abort();
    await pending.catch(() => undefined);
    throw new BlockError(failure.kind, redact(failure.detail + ((await cleanup?.()) ?? ''), token));
  } finally {
    signal?.removeEventListener('abort', onAbort);
    detach?.removeEventListener('abort', onAbort);
  }
}

/** `run` (or its wait for `existingId`) bounded like every call; canceled when it fails, unless detached. */
function boundedRun(
  core: ClientCore,
  run: PredictionRun,
  signal: AbortSignal | undefined,
  detach: AbortSignal | undefined,
  existingId?: string,
): Promise<Prediction> {
  return bounded(
    core,
    (stop) => run.execute(stop, existingId),
    signal,
    () => run.cancelIfRunning(),
    detach,
  );
}

/** POST /v1/files within a run (its signal and deadline); failures reach the caller's error handling. */
function uploader(core: ClientCore, signal: AbortSignal): Upload {
  const { http, baseUrl } = core;
  return async (content, filename) => {
    if (content.size >= MAX_FILE_BYTES) {
      throw new BlockError('invalid_input', `${filename}: ${content.size} bytes; ${FILE_LIMIT_TEXT}`);
    }
    const form = new FormData();
    form.set('content', content, filename);
    form.set('filename', filename);
    form.set('type', content.type || 'application/octet-stream');
    // A repeated upload creates a second file and bills nothing, so it is retried like a poll.
    const body: unknown = await http.ky
      .post('files', {
        ...http.options('idempotent', deadline(core), { signal }),
        signal,
        body: form,
        timeout: UPLOAD_TIMEOUT_MS,
      })
      .json();
    const file = fileSchema.safeParse(body);
    if (!file.success)
      throw new BlockError(
        'bad_response',
        `The Replicate API at ${baseUrl} answered POST /files with JSON that is not a file (${formatIssues(file.error.issues, 'body')})`,
      );
    return file.data;
  };
}

/** GET /v1/models/{owner}/{name} (`path`: `models/{owner}/{name}`, encoded), its answer checked to be a model. */
async function getModel(
  { http, baseUrl, timeoutMs }: ClientCore,
  path: string,
  stop: AbortSignal,
): Promise<ReplicateModel> {
  const body: unknown = await http.ky
    .get(path, http.options('idempotent', deadline({ timeoutMs }), { signal: stop }))
    .json();
  const found = modelSchema.safeParse(body);
  if (!found.success) {
    throw new BlockError(
      'bad_response',
      `The Replicate API at ${baseUrl} answered GET /${path} with JSON that is not a model (${formatIssues(found.error.issues, 'body')})`,
    );
  }
  return found.data;
}

/** POST /v1/predictions/{id}/cancel; returns the prediction as the cancel answered it. */
async function cancelPrediction(
  { http, baseUrl, timeoutMs }: ClientCore,
  id: string,
  stop: AbortSignal,
): Promise<Prediction> {
  const response = await http.ky.post(
    `predictions/${encodeURIComponent(id)}/cancel`,
    http.options('idempotent', deadline({ timeoutMs }), { signal: stop }),
  );
  return readPrediction(response, baseUrl);
}

/** One request of {@link ReplicateClient.request}: its body serialized, its answer read as JSON. */
async function apiRequest(
  { http, timeoutMs }: ClientCore,
  path: string,
  { method = 'GET', json, text, searchParams, kind = 'idempotent' }: Omit<ApiRequest, 'signal'>,
  stop: AbortSignal,
): Promise<unknown> {
  const body = json !== undefined ? JSON.stringify(json) : text;
  const headers =
    json !== undefined
      ? { 'content-type': 'application/json' }
      : text !== undefined
        ? { 'content-type': 'text/plain' }
        : undefined;
  const query = searchParams ? `?${new URLSearchParams(searchParams as Record<string, string>).toString()}` : '';
  const response = await http.ky(`${path}${query}`, {
    ...http.options(kind, deadline({ timeoutMs }), { signal: stop, headers, body }),
    method,
  });
  return response.json();
}

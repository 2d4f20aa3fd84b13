import { setTimeout as sleep } from 'node:timers/promises';
import { HTTPError } from 'ky';
import pTimeout, { TimeoutError } from 'p-timeout';
import { z } from 'zod';
import type { BlockContext } from './block.js';
import { BlockError, formatIssues, redact } from './errors.js';
import { networkCode, ReplicateApi, REQUEST_TIMEOUT_MS, toBlockError } from './transport.js';

/** Replicate's public HTTP API. Source: `servers` in Replicate's OpenAPI spec. */
export const DEFAULT_BASE_URL = 'https://api.replicate.com/v1';

/** Statuses after which a prediction never changes. `processing` is not one, even with output. */
export const TERMINAL_STATUSES = ['succeeded', 'failed', 'canceled', 'aborted'] as const;

const predictionSchema = z
  .object({
    id: z.string().min(1),
    status: z.enum(['starting', 'processing', ...TERMINAL_STATUSES]),
    model: z.string().optional(),
    version: z.string().optional(),
    input: z.record(z.unknown()).optional(),
    output: z.unknown(),
    error: z.unknown().optional(),
    data_removed: z.boolean().optional(),
    logs: z.string().nullish(),
    created_at: z.string().optional(),
  })
  .passthrough();

/**
 * A prediction as Replicate returns it (Replicate API: `schemas_prediction_response`); only the
 * fields the runner reads are typed, the rest pass through.
 */
export type Prediction = z.infer<typeof predictionSchema>;

/** What the runner reports while a prediction runs. `percent` (0-100) comes from the model's logs. */
export interface ProgressEvent {
  readonly predictionId: string;
  readonly status: Prediction['status'];
  readonly percent?: number;
}

/** How the runner reaches Replicate and how long it waits. Every field is optional. */
export interface RunnerOptions {
  /** Replicate API base URL, or a Replicate-compatible proxy's (e.g. `https://<proxy>/replicate/v1`). Default {@link DEFAULT_BASE_URL}. */
  readonly baseUrl?: string;
  /** Bound on the whole run, create to terminal status, in ms. Default 600000 (10 minutes). */
  readonly timeoutMs?: number;
  /** Longest sync wait asked of Replicate on create (`Prefer: wait=n`), in s, 1-60. Default 60. */
  readonly waitSeconds?: number;
  /**
   * Polling interval after the sync wait, in ms, for the first 30 s of polling; after that it
   * grows 1.5x per poll. Default 500, as the official client polls.
   */
  readonly pollIntervalMs?: number;
  /** Longest polling interval, in ms. Default 5000. */
  readonly maxPollIntervalMs?: number;
  /** Called when the prediction's status or progress percent changes. */
  readonly onProgress?: (event: ProgressEvent) => void;
}

/** A prediction to run: `model` is `owner/name` (official model), `owner/name:<version>` or a bare version id. */
export interface PredictionRequest {
  readonly model: string;
  readonly input: Readonly<Record<string, unknown>>;
}

const runnerOptionsSchema = z.object({
  baseUrl: z
    .string()
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL')
    .default(DEFAULT_BASE_URL),
  timeoutMs: z.number().int().positive().default(600_000),
  waitSeconds: z.number().int().min(1).max(60).default(60),
  pollIntervalMs: z.number().int().positive().default(500),
  maxPollIntervalMs: z.number().int().positive().default(5_000),
});

/** A 64-character version id. */
export const VERSION_ID = /^[0-9a-f]{64}$/;
const STEADY_POLLING_MS = 30_000;
// What an API token can hold: visible ASCII. Anything else would break or inject into the header.
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;

/**
 * Runs one prediction to a terminal status and returns it when it succeeded.
 *
 * Creates it with `Prefer: wait` (Replicate API: POST /v1/models/{owner}/{name}/predictions, or
 * POST /v1/predictions with `version` for version ids), then polls GET /v1/predictions/{id},
 * every `pollIntervalMs` for 30 s and then less often. The whole run, retries and rate-limit
 * waits included, is bounded by `timeoutMs`; the prediction also carries a `Cancel-After`
 * header of that length, so Replicate stops it even if this process dies. Requests are retried
 * and paced as {@link ReplicateApi.options} describes; a create is never sent twice unless its
 * connection was refused or it met a 429. On timeout, host abort, or any failure while it
 * runs, the prediction is canceled (POST /v1/predictions/{id}/cancel) before this function
 * rejects; a create whose answer was lost is found again in GET /v1/predictions by its input
 * and canceled.
 *
 * @param context `credentials.apiKey` (the token, sent as `Authorization: Bearer`), the host's
 *   abort `signal`, and {@link RunnerOptions} under `runner`.
 * @returns the prediction with status `succeeded` (its `output` is model-specific).
 * @throws {BlockError} of a kind in `ERROR_KINDS` (invalid_input, unauthorized, not_found,
 *   rejected_input, rate_limited, model_failed, safety_filter, canceled, aborted, timed_out,
 *   host_aborted, output_deleted, unreachable, bad_response, api_error, internal). Its message
 *   never contains the token.
 */
export async function runPrediction(request: PredictionRequest, context: BlockContext): Promise<Prediction> {
  const { settings, token, api } = connect(context);
  const run = new PredictionRun(api, request, { ...settings, onProgress: context.runner?.onProgress });
  // One controller stops the work on timeout, failure or host abort. A listener, not
  // AbortSignal.any: signals are costly to create in Node 20, and this runs per prediction.
  const stop = new AbortController();
  const onHostAbort = () => stop.abort();
  context.signal?.addEventListener('abort', onHostAbort, { once: true });
  const work = run.execute(stop.signal);
  try {
    return await pTimeout(work, { milliseconds: settings.timeoutMs, signal: context.signal });
  } catch (error) {
    // Read the failure (an HTTP error's body) before aborting: the abort cancels open bodies.
    const failure = error instanceof TimeoutError
      ? new BlockError('timed_out', `The run timed out after ${settings.timeoutMs} ms`)
      : context.signal?.aborted ? new BlockError('host_aborted', 'The run was stopped by the host') : await toBlockError(error, settings.baseUrl);
    stop.abort();
    await work.catch(() => undefined);
    throw new BlockError(failure.kind, redact(failure.detail + (await run.cancelIfRunning()), token));
  } finally {
    context.signal?.removeEventListener('abort', onHostAbort);
  }
}

/**
 * The checked runner settings of a context (defaults applied), its token, and the API they
 * reach, with the run's deadline starting now.
 * @throws {BlockError} `invalid_input` for bad runner options or a missing or malformed token,
 *   `host_aborted` when the host's signal is already aborted.
 */
export function connect(context: BlockContext): { settings: z.infer<typeof runnerOptionsSchema>; token: string; api: ReplicateApi } {
  const parsed = runnerOptionsSchema.safeParse(context.runner ?? {});
  if (!parsed.success) throw new BlockError('invalid_input', `Invalid runner options: ${formatIssues(parsed.error.issues, 'runner')}`);
  const token = context.credentials?.apiKey?.trim();
  if (!token) {
    throw new BlockError('invalid_input', 'credentials: no Replicate API token was given (set REPLICATE_API_TOKEN or pass credentials.apiKey)');
  }
  if (!TOKEN_CHARACTERS.test(token)) {
    throw new BlockError('invalid_input', 'credentials: the Replicate API token holds characters no token has (spaces, line breaks or non-ASCII)');
  }
  if (context.signal?.aborted) throw new BlockError('host_aborted', 'The run was stopped by the host before it started');
  const settings = parsed.data;
  const api = new ReplicateApi({ baseUrl: settings.baseUrl, token, deadline: Date.now() + settings.timeoutMs, timeoutMs: settings.timeoutMs });
  return { settings, token, api };
}

/** One prediction's life on the client side: create, wait, poll, and cancel when abandoned. */
class PredictionRun {
  private id: string | undefined;
  private terminal = false;
  /** The create was sent and no answer proved it created nothing. */
  private mayExist = false;
  private createdAfter = '';
  private lastProgress = '';

  constructor(
    private readonly api: ReplicateApi,
    private readonly request: PredictionRequest,
    private readonly settings: z.infer<typeof runnerOptionsSchema> & Pick<RunnerOptions, 'onProgress'>,
  ) {}

  async execute(signal: AbortSignal): Promise<Prediction> {
    let prediction = await this.create(signal);
    let interval = this.settings.pollIntervalMs;
    // Steady polls keep the delay to notice the end short for typical image predictions (a
    // few seconds); past STEADY_POLLING_MS the interval grows, to spare the request limit.
    const growFrom = Date.now() + STEADY_POLLING_MS;
    while (!isTerminal(prediction)) {
      await sleep(interval, undefined, { signal });
      if (Date.now() >= growFrom) interval = Math.min(interval * 1.5, this.settings.maxPollIntervalMs);
      prediction = await this.read(this.api.http.get(`predictions/${encodeURIComponent(prediction.id)}`, { ...this.api.options('idempotent'), signal }));
    }
    const { id, status } = prediction;
    if (status === 'succeeded') {
      if (prediction.data_removed) throw new BlockError('output_deleted', `Prediction ${id} succeeded, but its output was already deleted`);
      return prediction;
    }
    if (status === 'failed') {
      const text = errorText(prediction.error);
      if (SAFETY_FILTER.test(text)) throw new BlockError('safety_filter', `Prediction ${id} was blocked by the model's safety filter: ${text}`);
      throw new BlockError('model_failed', `Prediction ${id} failed: ${text}`);
    }
    throw status === 'canceled'
      ? new BlockError('canceled', `Prediction ${id} was canceled before it finished`)
      : new BlockError('aborted', `Prediction ${id} was aborted before it started: its deadline passed while it was queued`);
  }

  private async create(signal: AbortSignal): Promise<Prediction> {
    const { model, input } = this.request;
    const versioned = model.includes(':') || VERSION_ID.test(model);
    const path = versioned ? 'predictions' : `models/${model.split('/').map(encodeURIComponent).join('/')}/predictions`;
    const wait = Math.min(this.settings.waitSeconds, Math.floor(this.settings.timeoutMs / 1000));
    this.createdAfter = new Date(Date.now() - 60_000).toISOString();
    const response = this.api.http.post(path, {
      ...this.api.options('create', { onAttempt: (sent) => void (this.mayExist = sent) }),
      signal,
      // A serialized body: ky's `json` option costs about 0.3 ms more per create (measured).
      body: JSON.stringify(versioned ? { version: model, input } : { input }),
      headers: {
        'Content-Type': 'application/json',
        ...(wait >= 1 ? { Prefer: `wait=${wait}` } : {}),
        // Replicate's minimum Cancel-After is 5 s.
        'Cancel-After': `${Math.max(5, Math.ceil(this.settings.timeoutMs / 1000))}s`,
      },
      timeout: (Math.max(wait, 0) * 1000) + REQUEST_TIMEOUT_MS,
    });
    try {
      return await this.read(response);
    } catch (error) {
      // An answer below 500 means nothing was created, as does a refused connection.
      if ((error instanceof HTTPError && error.response.status < 500) || networkCode(error) === 'ECONNREFUSED') this.mayExist = false;
      throw error;
    }
  }

  /** The prediction in an API answer. @throws {BlockError} `bad_response` when it is not JSON or not a prediction. */
  private async read(pending: Promise<Response>): Promise<Prediction> {
    const response = await pending;
    const text = await response.text();
    const what = `The Replicate API at ${this.settings.baseUrl} answered ${response.status} (${response.headers.get('content-type') ?? 'no content type'})`;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new BlockError('bad_response', `${what} with something that is not JSON`);
    }
    const parsed = predictionSchema.safeParse(body);
    if (!parsed.success) throw new BlockError('bad_response', `${what} with JSON that is not a prediction (${formatIssues(parsed.error.issues, 'body')})`);
    const prediction = parsed.data;
    this.id = prediction.id;
    this.terminal = isTerminal(prediction);
    this.report(prediction);
    return prediction;
  }

  private report(prediction: Prediction): void {
    const percent = progressPercent(prediction.logs);
    const key = `${prediction.status}:${percent}`;
    if (key === this.lastProgress) return;
    this.lastProgress = key;
    this.settings.onProgress?.({ predictionId: prediction.id, status: prediction.status, percent });
  }

  /**
   * Cancels the prediction unless it reached a terminal status, and says how that went as a
   * sentence fragment for the error message. When the create's answer was lost (cut off, reset,
   * 5xx), the prediction is found again in GET /v1/predictions by its model and input.
   */
  async cancelIfRunning(): Promise<string> {
    if (this.terminal || (this.id === undefined && !this.mayExist)) return '';
    // Cleanup has its own time: the run's deadline may have passed.
    const deadline = Date.now() + REQUEST_TIMEOUT_MS;
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    try {
      const id = this.id ?? (await this.findCreated(signal, deadline));
      if (id === undefined) return '; no running prediction was found to cancel';
      await this.api.http.post(`predictions/${encodeURIComponent(id)}/cancel`, { ...this.api.options('idempotent', { deadline }), signal });
      return `; prediction ${id} was canceled`;
    } catch (error) {
      return `; canceling the prediction failed (${(await toBlockError(error, this.settings.baseUrl)).detail}), so Replicate stops it at its Cancel-After deadline`;
    }
  }

  private async findCreated(signal: AbortSignal, deadline: number): Promise<string | undefined> {
    const page = await this.api.http
      .get('predictions', { ...this.api.options('idempotent', { deadline }), signal, searchParams: { created_after: this.createdAfter } })
      .json<{ results?: unknown[] }>();
    const { model, input } = this.request;
    const found = (page.results ?? [])
      .map((p) => predictionSchema.safeParse(p))
      .find(({ success, data }) => success && !isTerminal(data)
        && (data.model === model || data.version === model.split(':').pop())
        && Object.entries(input).every(([k, v]) => JSON.stringify(data.input?.[k]) === JSON.stringify(v)));
    return found?.data?.id;
  }
}

// Replicate's Flux models fail with "NSFW content detected..." when their safety checker fires.
const SAFETY_FILTER = /\bnsfw\b|safety (filter|checker)|flagged as sensitive/i;

function isTerminal(prediction: Prediction): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(prediction.status);
}

function errorText(error: unknown): string {
  if (typeof error === 'string' && error) return error;
  return error ? JSON.stringify(error) : 'Replicate gave no reason';
}

/** The last percentage of a tqdm progress bar in the logs (`45%|████▌     | 9/20`), 0-100. */
export function progressPercent(logs: string | null | undefined): number | undefined {
  const matches = logs ? [...logs.matchAll(/(\d{1,3})%\|/g)] : [];
  const last = matches.at(-1);
  return last ? Math.min(100, Number(last[1])) : undefined;
}

/**
 * The image URLs of a succeeded prediction, in order: its `output` is a list of URIs or a
 * single URI, depending on the model.
 * @throws {BlockError} when the prediction holds no URL (a success without output).
 */
export function outputUrls(prediction: Prediction): string[] {
  const items: unknown[] = Array.isArray(prediction.output) ? prediction.output : [prediction.output];
  const urls = items.filter((item): item is string => typeof item === 'string' && item.length > 0);
  if (!urls.length) throw new BlockError('model_failed', `Prediction ${prediction.id} succeeded but returned no output`);
  return urls;
}

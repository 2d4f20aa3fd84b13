import { setTimeout as sleep } from 'node:timers/promises';
import ky, { HTTPError, TimeoutError as KyTimeoutError, type KyInstance, type Options } from 'ky';
import pTimeout, { TimeoutError } from 'p-timeout';
import { z } from 'zod';
import type { BlockContext } from './block.js';
import { BlockError, formatIssues } from './errors.js';

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
  /** First polling interval after the sync wait, in ms; it grows 1.5x per poll. Default 500. */
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

const VERSION_ID = /^[0-9a-f]{64}$/;
// Bound on single requests that are not a sync wait, so a stalled connection cannot hang a poll.
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Runs one prediction to a terminal status and returns it when it succeeded.
 *
 * Creates it with `Prefer: wait` (Replicate API: POST /v1/models/{owner}/{name}/predictions, or
 * POST /v1/predictions with `version` for version ids), then polls GET /v1/predictions/{id} with a
 * growing interval. The whole run is bounded by `timeoutMs`; the prediction also carries a
 * `Cancel-After` header of that length, so Replicate stops it even if this process dies. On
 * timeout, host abort, or any failure while it runs, it is canceled (POST
 * /v1/predictions/{id}/cancel) before this function rejects.
 *
 * @param context `credentials.apiKey` (the token, sent as `Authorization: Bearer`), the host's
 *   abort `signal`, and {@link RunnerOptions} under `runner`.
 * @returns the prediction with status `succeeded` (its `output` is model-specific).
 * @throws {BlockError} for bad options or token, HTTP errors (with Replicate's problem detail),
 *   a `failed`, `canceled` or `aborted` prediction, timeout and abort. Never contains the token.
 */
export async function runPrediction(request: PredictionRequest, context: BlockContext): Promise<Prediction> {
  const parsed = runnerOptionsSchema.safeParse(context.runner ?? {});
  if (!parsed.success) throw new BlockError(`Invalid runner options: ${formatIssues(parsed.error.issues, 'runner')}`);
  const apiKey = context.credentials?.apiKey;
  if (!apiKey) {
    throw new BlockError('credentials: no Replicate API token was given (set REPLICATE_API_TOKEN or pass credentials.apiKey)');
  }
  if (context.signal?.aborted) throw new BlockError('The run was aborted by the host before it started');
  const settings = parsed.data;
  const api = ky.create({
    prefixUrl: settings.baseUrl,
    headers: { Authorization: `Bearer ${apiKey}` },
    timeout: REQUEST_TIMEOUT_MS,
  });
  const run = new PredictionRun(api, request, { ...settings, onProgress: context.runner?.onProgress });
  const stop = new AbortController();
  const signal = context.signal ? AbortSignal.any([context.signal, stop.signal]) : stop.signal;
  const work = run.execute(signal);
  try {
    return await pTimeout(work, { milliseconds: settings.timeoutMs, signal: context.signal });
  } catch (error) {
    const why = error instanceof TimeoutError
      ? `timed out after ${settings.timeoutMs} ms`
      : context.signal?.aborted ? 'was aborted by the host' : undefined;
    // Read the failure (an HTTP error's body) before aborting: the abort cancels open bodies.
    const failure = why ? `The run ${why}` : await describeError(error, settings.baseUrl);
    stop.abort();
    await work.catch(() => undefined);
    throw new BlockError(failure + (await run.cancelIfRunning(why !== undefined)));
  }
}

/** One prediction's life on the client side: create, wait, poll, and cancel when abandoned. */
class PredictionRun {
  private id: string | undefined;
  private terminal = false;
  private createdAfter: string | undefined;
  private lastProgress = '';

  constructor(
    private readonly api: KyInstance,
    private readonly request: PredictionRequest,
    private readonly settings: z.infer<typeof runnerOptionsSchema> & Pick<RunnerOptions, 'onProgress'>,
  ) {}

  async execute(signal: AbortSignal): Promise<Prediction> {
    let prediction = await this.create(signal);
    let interval = this.settings.pollIntervalMs;
    while (!isTerminal(prediction)) {
      await sleep(interval, undefined, { signal });
      interval = Math.min(interval * 1.5, this.settings.maxPollIntervalMs);
      prediction = await this.fetch(this.api.get(`predictions/${encodeURIComponent(prediction.id)}`, { signal }));
    }
    if (prediction.status === 'succeeded') return prediction;
    if (prediction.status === 'failed') {
      throw new BlockError(`Prediction ${prediction.id} failed: ${errorText(prediction.error)}`);
    }
    throw new BlockError(
      prediction.status === 'canceled'
        ? `Prediction ${prediction.id} was canceled before it finished`
        : `Prediction ${prediction.id} was aborted before it started (its deadline passed while it was queued)`,
    );
  }

  private create(signal: AbortSignal): Promise<Prediction> {
    const { model, input } = this.request;
    const versioned = model.includes(':') || VERSION_ID.test(model);
    const path = versioned ? 'predictions' : `models/${model.split('/').map(encodeURIComponent).join('/')}/predictions`;
    const wait = Math.min(this.settings.waitSeconds, Math.floor(this.settings.timeoutMs / 1000));
    const options: Options = {
      signal,
      json: versioned ? { version: model, input } : { input },
      headers: {
        ...(wait >= 1 ? { Prefer: `wait=${wait}` } : {}),
        // Replicate's minimum Cancel-After is 5 s.
        'Cancel-After': `${Math.max(5, Math.ceil(this.settings.timeoutMs / 1000))}s`,
      },
      timeout: (Math.max(wait, 0) * 1000) + REQUEST_TIMEOUT_MS,
      // A create that failed on the network may have reached Replicate: only a 429 is safe to repeat.
      retry: { limit: 2, methods: ['post'], statusCodes: [429], shouldRetry: ({ error }) => (error instanceof HTTPError ? undefined : false) },
    };
    this.createdAfter = new Date(Date.now() - 60_000).toISOString();
    return this.fetch(this.api.post(path, options));
  }

  private async fetch(response: Promise<Response>): Promise<Prediction> {
    const text = await (await response).text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new BlockError(`The Replicate API at ${this.settings.baseUrl} answered with something that is not JSON`);
    }
    const parsed = predictionSchema.safeParse(body);
    if (!parsed.success) throw new BlockError(`The Replicate API at ${this.settings.baseUrl} answered with something that is not a prediction`);
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
   * sentence fragment for the error message. When the create request was cut off before its
   * answer (`abandoned` during the sync wait), the prediction is found again in
   * GET /v1/predictions by its input.
   */
  async cancelIfRunning(abandoned: boolean): Promise<string> {
    if (this.terminal || this.createdAfter === undefined) return '';
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    try {
      const id = this.id ?? (abandoned ? await this.findCreated(signal) : undefined);
      if (id === undefined) return abandoned ? '; no prediction was found to cancel' : '';
      await this.api.post(`predictions/${encodeURIComponent(id)}/cancel`, {
        signal,
        retry: { limit: 2, methods: ['post'] },
      });
      return `; prediction ${id} was canceled`;
    } catch (error) {
      return `; canceling the prediction failed (${await describeError(error, this.settings.baseUrl)}), Replicate stops it at its Cancel-After deadline`;
    }
  }

  private async findCreated(signal: AbortSignal): Promise<string | undefined> {
    const page = await this.api
      .get('predictions', { signal, searchParams: { created_after: this.createdAfter! } })
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

const problemSchema = z.object({
  title: z.string().optional(),
  detail: z.string().optional(),
  status: z.number().optional(),
  invalid_fields: z
    .array(z.object({ field: z.string().optional(), description: z.string().optional(), type: z.string().optional() }))
    .optional(),
});

const HINTS: Record<number, string> = {
  401: 'check the Replicate API token',
  403: 'check that the Replicate API token may run this model',
  404: 'check the model name and the base URL',
  429: 'Replicate is rate limiting this token; try again later',
};

/**
 * A person-readable account of a request failure: Replicate's problem detail
 * (`{title, detail, status, invalid_fields?}`) for HTTP errors, or the network cause.
 */
async function describeError(error: unknown, baseUrl: string): Promise<string> {
  if (error instanceof BlockError) return error.message;
  if (error instanceof HTTPError) {
    const { status, statusText } = error.response;
    const text = await error.response.text().catch(() => '');
    let problem: z.infer<typeof problemSchema>;
    try {
      problem = problemSchema.parse(JSON.parse(text));
    } catch {
      problem = { detail: text.replace(/\s+/g, ' ').trim().slice(0, 200) || undefined };
    }
    const fields = (problem.invalid_fields ?? []).map((f) => f.description ?? f.field).filter(Boolean);
    const detail = (fields.length ? fields.join('; ') : problem.detail)?.replace(/\.$/, '');
    const hint = HINTS[status];
    return `Replicate API error ${status} ${problem.title ?? statusText}${detail ? `: ${detail}` : ''}${hint ? ` (${hint})` : ''}`;
  }
  if (error instanceof KyTimeoutError) {
    return `Replicate API request timed out (${error.request.method} ${new URL(error.request.url).pathname})`;
  }
  // fetch reports network failures as a TypeError with the system error as its cause.
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if ((error as Error | undefined)?.name === 'TypeError' && cause) return `Could not reach the Replicate API at ${baseUrl}: ${cause.code ?? cause.message}`;
  return `Unexpected error: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * The image URLs of a succeeded prediction, in order: its `output` is a list of URIs or a
 * single URI, depending on the model.
 * @throws {BlockError} when the prediction holds no URL (a success without output).
 */
export function outputUrls(prediction: Prediction): string[] {
  const items: unknown[] = Array.isArray(prediction.output) ? prediction.output : [prediction.output];
  const urls = items.filter((item): item is string => typeof item === 'string' && item.length > 0);
  if (!urls.length) throw new BlockError(`Prediction ${prediction.id} succeeded but returned no output`);
  return urls;
}

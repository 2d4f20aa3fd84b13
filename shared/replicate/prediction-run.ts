import { setTimeout as sleep } from 'node:timers/promises';
import { HTTPError } from 'ky';
import { BlockError } from '../core/errors.js';
import { formatIssues } from '../core/issues.js';
import { neverReached, toBlockError } from './api-errors.js';
import { uploadLargeDataUris, type Upload } from './files.js';
import { REQUEST_TIMEOUT_MS, type ReplicateHttp, type RunDeadline } from './http.js';
import { findPredictions } from './find-predictions.js';
import {
  isTerminal,
  predictionSchema,
  VERSION_ID,
  type Prediction,
  type PredictionRequest,
  type ProgressEvent,
} from './types.js';
import type { WebhookReceiver } from './webhooks.js';

/** Where Replicate sends a run's webhook deliveries, and the receiver that gets them. */
export interface WebhookTarget {
  /** The public http(s) URL Replicate calls (the `webhook` of the create). */
  readonly url: string;
  readonly receiver: WebhookReceiver;
}

/** How long a run waits and polls; the client's checked options. All in ms but `waitSeconds`. */
export interface RunSettings {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  readonly waitSeconds: number;
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
  /** With webhooks: the run waits for the `completed` delivery, with a safety poll. */
  readonly webhook?: WebhookTarget & { readonly loadSecret: () => Promise<string> };
}

/** The hooks of one run, from its call options (see `CallOptions` in client.ts). */
export interface RunHooks {
  readonly onProgress?: (event: ProgressEvent) => void;
  readonly beforeCreate?: (request: PredictionRequest) => Promise<string | undefined> | string | undefined;
  readonly onCreated?: (prediction: Prediction) => Promise<void> | void;
  readonly onCompleted?: (prediction: Prediction) => void;
}

/** With webhooks, the safety poll's interval, in ms: a lost delivery costs at most this much. */
export const SAFETY_POLL_MS = 30_000;
/** Events a webhook run asks for: `start` and `logs` for progress, `completed` for the end (outputs are read then). */
const WEBHOOK_EVENTS = ['start', 'logs', 'completed'] as const;

/** Polling keeps its first interval this long, in ms, then grows 1.5x per poll. */
const STEADY_POLLING_MS = 30_000;

/**
 * The polling interval after `elapsedMs` of polling, in ms, given the previous one: the
 * first interval for 30 s, then 1.5x per poll up to `maxMs`.
 */
export function nextPollInterval(previousMs: number, elapsedMs: number, maxMs: number): number {
  return elapsedMs >= STEADY_POLLING_MS ? Math.min(previousMs * 1.5, maxMs) : previousMs;
}

/** One prediction's life on the client side: create, wait, poll, and cancel when abandoned. */
export class PredictionRun {
  private id: string | undefined;
  private terminal = false;
  /** The create was sent and no answer proved it created nothing. */
  private mayExist = false;
  private createdAfter = '';
  private lastProgress = '';
  private readonly run: RunDeadline;
  /** The request as sent: large `data:` URIs replaced by file URLs. */
  private request: PredictionRequest;

  constructor(
    private readonly http: ReplicateHttp,
    request: PredictionRequest,
    private readonly settings: RunSettings,
    private readonly upload: (signal: AbortSignal) => Upload,
    private readonly hooks: RunHooks = {},
  ) {
    this.request = request;
    this.run = { deadline: Date.now() + settings.timeoutMs, timeoutMs: settings.timeoutMs };
  }

  /**
   * Runs the prediction to its end: creates it, or with `existingId` (or an id from the
   * `beforeCreate` hook) reads that one instead; then waits for its webhook, if any, and polls
   * until it is terminal.
   */
  async execute(signal: AbortSignal, existingId?: string): Promise<Prediction> {
    const resumeId = existingId ?? (await this.hooks.beforeCreate?.(this.request));
    let prediction: Prediction;
    if (resumeId !== undefined) {
      prediction = await this.get(resumeId, signal);
    } else {
      // Large data: URIs go up as files first, so the create stays small.
      this.request = { ...this.request, input: await uploadLargeDataUris(this.request.input, this.upload(signal)) };
      const { webhook } = this.settings;
      if (webhook) await webhook.receiver.useSecret(webhook.loadSecret);
      prediction = await this.create(signal);
      await this.hooks.onCreated?.(prediction);
      if (webhook) prediction = await this.awaitCompleted(prediction, webhook.receiver, signal);
    }
    let interval = this.settings.pollIntervalMs;
    // Steady polls keep the delay to notice the end short for typical image predictions (a
    // few seconds); past STEADY_POLLING_MS the interval grows, to spare the request limit.
    const pollingFrom = Date.now();
    while (!isTerminal(prediction)) {
      await sleep(interval, undefined, { signal });
      interval = nextPollInterval(interval, Date.now() - pollingFrom, this.settings.maxPollIntervalMs);
      prediction = await this.get(prediction.id, signal);
    }
    // Before the status is judged: a failed prediction may still have billed hardware time.
    this.hooks.onCompleted?.(prediction);
    const { id, status } = prediction;
    if (status === 'succeeded') {
      if (prediction.data_removed)
        throw new BlockError('output_deleted', `Prediction ${id} succeeded, but its output was already deleted`);
      return prediction;
    }
    if (status === 'failed') {
      const text = errorText(prediction.error);
      if (!text) {
        const page = prediction.urls?.web;
        throw new BlockError(
          'model_failed',
          `Prediction ${id} failed, and Replicate gave no reason${page ? `; its page may say more: ${page}` : ''}`,
        );
      }
      if (SAFETY_FILTER.test(text))
        throw new BlockError('safety_filter', `Prediction ${id} was blocked by the model's safety filter: ${text}`);
      throw new BlockError('model_failed', `Prediction ${id} failed: ${text}`);
    }
    throw status === 'canceled'
      ? new BlockError('canceled', `Prediction ${id} was canceled before it finished`)
      : new BlockError(
          'aborted',
          `Prediction ${id} was aborted before it started: its deadline passed while it was queued`,
        );
  }

  private async create(signal: AbortSignal): Promise<Prediction> {
    const { model, input } = this.request;
    const versioned = model.includes(':') || VERSION_ID.test(model);
    const path = versioned ? 'predictions' : `models/${model.split('/').map(encodeURIComponent).join('/')}/predictions`;
    const wait = Math.min(this.settings.waitSeconds, Math.floor(this.settings.timeoutMs / 1000));
    this.createdAfter = new Date(Date.now() - 60_000).toISOString();
    const response = this.http.ky.post(path, {
      ...this.http.options('create', this.run, {
        signal,
        // A serialized body: ky's `json` option costs about 0.3 ms more per create (measured).
        body: JSON.stringify({
          ...(versioned && { version: model }),
          input,
          ...(this.settings.webhook && { webhook: this.settings.webhook.url, webhook_events_filter: WEBHOOK_EVENTS }),
        }),
        headers: {
          'content-type': 'application/json',
          ...(wait >= 1 ? { prefer: `wait=${wait}` } : {}),
          // Replicate's minimum Cancel-After is 5 s.
          'cancel-after': `${Math.max(5, Math.ceil(this.settings.timeoutMs / 1000))}s`,
        },
        timeoutMs: Math.max(wait, 0) * 1000 + REQUEST_TIMEOUT_MS,
        onAttempt: (sent) => void (this.mayExist = sent),
      }),
    });
    try {
      return await this.read(response);
    } catch (error) {
      // An answer below 500 means nothing was created, as does a request that never reached a server.
      if ((error instanceof HTTPError && error.response.status < 500) || neverReached(error)) this.mayExist = false;
      if (error instanceof HTTPError && (error.response.status === 400 || error.response.status === 413)) {
        const failure = await toBlockError(error, this.settings.baseUrl);
        throw new BlockError(failure.kind, `${failure.detail}; the largest input is ${largestInput(input)}`);
      }
      throw error;
    }
  }

  private get(id: string, signal: AbortSignal): Promise<Prediction> {
    return this.read(
      this.http.ky.get(`predictions/${encodeURIComponent(id)}`, this.http.options('idempotent', this.run, { signal })),
    );
  }

  /** The prediction in an API answer. @throws {BlockError} `bad_response` when it is not JSON or not a prediction. */
  private async read(pending: Promise<Response>): Promise<Prediction> {
    return this.accept(await readPrediction(await pending, this.settings.baseUrl));
  }

  private accept(prediction: Prediction): Prediction {
    this.id = prediction.id;
    this.terminal = isTerminal(prediction);
    this.report(prediction);
    return prediction;
  }

  /**
   * Waits for the `completed` delivery of `first`'s prediction (progress from `start` and `logs`
   * ones), polling GET /v1/predictions/{id} only every {@link SAFETY_POLL_MS} and once just
   * before the run's deadline, so a lost delivery delays the result but never hangs the run.
   */
  private async awaitCompleted(first: Prediction, receiver: WebhookReceiver, signal: AbortSignal): Promise<Prediction> {
    let latest = first;
    let arrived = () => {};
    const unsubscribe = receiver.subscribe(first.id, (prediction) => {
      // Deliveries may come out of order: nothing changes a terminal prediction.
      if (isTerminal(latest)) return;
      latest = this.accept(prediction);
      arrived();
    });
    try {
      const atDeadline = this.run.deadline - Math.min(2_000, this.run.timeoutMs / 10);
      let polledAtDeadline = false;
      let lastPoll = Date.now();
      while (!isTerminal(latest)) {
        const next = Math.min(lastPoll + SAFETY_POLL_MS, polledAtDeadline ? Infinity : atDeadline);
        const due = await new Promise<boolean>((resolve, reject) => {
          const timer = setTimeout(() => finish(true), Math.max(0, next - Date.now()));
          const onAbort = () => {
            clearTimeout(timer);
            reject(signal.reason);
          };
          function finish(timedOut: boolean) {
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            resolve(timedOut);
          }
          arrived = () => finish(false);
          if (signal.aborted) return onAbort();
          signal.addEventListener('abort', onAbort, { once: true });
        });
        if (!due || isTerminal(latest)) continue;
        polledAtDeadline ||= next >= atDeadline;
        lastPoll = Date.now();
        const polled = await this.read(
          this.http.ky.get(
            `predictions/${encodeURIComponent(first.id)}`,
            this.http.options('idempotent', this.run, { signal }),
          ),
        );
        if (!isTerminal(latest)) latest = polled;
      }
      return latest;
    } finally {
      unsubscribe();
    }
  }

  private report(prediction: Prediction): void {
    const percent = progressPercent(prediction.logs);
    const key = `${prediction.status}:${percent}`;
    if (key === this.lastProgress) return;
    this.lastProgress = key;
    this.hooks.onProgress?.({ predictionId: prediction.id, status: prediction.status, percent });
  }

  /**
   * Cancels the prediction unless it reached a terminal status, and says how that went as a
   * sentence fragment for the error message. When the create's answer was lost (cut off, reset,
   * 5xx), the prediction is found again in GET /v1/predictions by its model and input.
   */
  async cancelIfRunning(): Promise<string> {
    if (this.terminal || (this.id === undefined && !this.mayExist)) return '';
    // Cleanup has its own time: the run's deadline may have passed.
    const cleanup = { deadline: Date.now() + REQUEST_TIMEOUT_MS, timeoutMs: this.settings.timeoutMs };
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    try {
      const id = this.id ?? (await this.findCreated(signal, cleanup));
      if (id === undefined) return '; no running prediction was found to cancel';
      await this.http.ky.post(
        `predictions/${encodeURIComponent(id)}/cancel`,
        this.http.options('idempotent', cleanup, { signal }),
      );
      return `; prediction ${id} was canceled`;
    } catch (error) {
      return `; canceling the prediction failed (${(await toBlockError(error, this.settings.baseUrl)).detail}), so Replicate stops it at its Cancel-After deadline`;
    }
  }

  private async findCreated(signal: AbortSignal, cleanup: RunDeadline): Promise<string | undefined> {
    const found = await findPredictions(this.http, this.request, this.createdAfter, signal, cleanup);
    return found.find((p) => !isTerminal(p))?.id;
  }
}

/**
 * The prediction in an API answer.
 * @throws {BlockError} `bad_response` when the body is not JSON or not a prediction.
 */
export async function readPrediction(response: Response, baseUrl: string): Promise<Prediction> {
  const text = await response.text();
  const what = () =>
    `The Replicate API at ${baseUrl} answered ${response.status} (${response.headers.get('content-type') ?? 'no content type'})`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BlockError('bad_response', `${what()} with something that is not JSON`);
  }
  const parsed = predictionSchema.safeParse(body);
  if (!parsed.success)
    throw new BlockError(
      'bad_response',
      `${what()} with JSON that is not a prediction (${formatIssues(parsed.error.issues, 'body')})`,
    );
  return parsed.data;
}

// Replicate's Flux models fail with "NSFW content detected..." when their safety checker fires.
const SAFETY_FILTER = /\bnsfw\b|safety (filter|checker)|flagged as sensitive/i;

/** A failed prediction's `error` as text; empty when Replicate gave none. */
function errorText(error: unknown): string {
  if (typeof error === 'string') return error.trim();
  return error ? JSON.stringify(error) : '';
}

/** The input field that takes most room in the request body, with its size: `input_image (300000 bytes)`. */
function largestInput(input: Readonly<Record<string, unknown>>): string {
  const sizes = Object.entries(input).map(
    ([field, value]) => [field, Buffer.byteLength(JSON.stringify(value) ?? '')] as const,
  );
  const [field, size] = sizes.sort((a, b) => b[1] - a[1])[0] ?? ['(none)', 0];
  return `${field} (${size} bytes)`;
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
 * @throws {BlockError} `model_failed` when the prediction holds no URL (a success without output).
 */
export function outputUrls(prediction: Prediction): string[] {
  const items: unknown[] = Array.isArray(prediction.output) ? prediction.output : [prediction.output];
  const urls = items.filter((item): item is string => typeof item === 'string' && item.length > 0);
  if (!urls.length)
    throw new BlockError('model_failed', `Prediction ${prediction.id} succeeded but returned no output`);
  return urls;
}

import type { IncomingHttpHeaders } from 'node:http';
import type { PredictionPlan } from './prediction.js';

/** How to start the emulator; every field is optional. */
export interface EmulatorOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** The only Bearer token accepted; default: any non-empty token. */
  readonly token?: string;
  /** Default time a prediction spends in `starting`, in ms. Default 300. */
  readonly startingMs?: number;
  /** Default time a prediction spends in `processing`, in ms. Default 1200. */
  readonly processingMs?: number;
  /** Scripts single predictions (failures, slow runs, partial output) by their model and input. */
  readonly plan?: (request: { model: string; input: Readonly<Record<string, unknown>> }) => PredictionPlan | undefined;
  /**
   * Applies Replicate's rate limits per token: `true` for the documented ones (600 creates and
   * 3000 other requests per minute), `'low-credit'` for an account low on credit (6 creates per
   * minute, burst 1), or your own. Default off.
   */
  readonly rateLimits?: boolean | 'low-credit' | RateLimits;
  /**
   * Answers every create 402 with Replicate's insufficient-credit problem, and every
   * OpenAI-style request 429 `insufficient_quota`. Default false.
   */
  readonly insufficientCredit?: boolean;
  /**
   * Largest request body accepted, in bytes; larger ones get 413. Default 16777216 (16 MiB):
   * Replicate does not document its own limit for prediction bodies (files: 100 MB).
   */
  readonly maxBodyBytes?: number;
  /** How long a prediction's output stays after it ends, in ms. Default 3600000: Replicate keeps API outputs one hour. */
  readonly retentionMs?: number;
  /** How many requests {@link Emulator.requests} keeps, newest last. Default 1000. */
  readonly maxRecorded?: number;
  /** Called with a line per answered request (`POST /v1/predictions 201 12 ms`); never holds the token. Default none. */
  readonly log?: (line: string) => void;
  /** Longest sync wait granted to `Prefer: wait`, in s. Default 60, as Replicate; benchmarks shorten it to force polling. */
  readonly maxSyncWaitSeconds?: number;
  /** Time a training spends in `processing`, in ms, before it succeeds with a new version. Default 1500. */
  readonly trainingMs?: number;
  /** The secret webhook deliveries are signed with (`whsec_<base64>`). Default: a new random one. */
  readonly webhookSecret?: string;
}

/**
 * Token buckets per API token. Defaults are Replicate's documented limits (600 prediction
 * creates and 3000 other requests per minute); the burst sizes are this emulator's choice
 * (10 s of each rate), as Replicate only says short bursts are allowed.
 */
export interface RateLimits {
  readonly createsPerMinute?: number;
  readonly othersPerMinute?: number;
  /** Creates allowed at once from a full bucket. Default a sixth of `createsPerMinute`. */
  readonly createBurst?: number;
  /** Other requests allowed at once from a full bucket. Default a sixth of `othersPerMinute`. */
  readonly otherBurst?: number;
  /**
   * Send a `Retry-After` header with each 429, besides the body's `retry_after` (in s). Default
   * true. Replicate documents the body field; whether it sends the header is not documented.
   */
  readonly retryAfterHeader?: boolean;
}

/**
 * The API routes, as faults name them. `file` is an output file download; `upload`,
 * `get-file` and `delete-file` are the Files API (POST /v1/files, GET and DELETE
 * /v1/files/{id}); `web` is a prediction's web page (`urls.web`); `weights` a training's
 * weights download (`output.weights`); `model-versions` and `model-version` are GET
 * /v1/models/{owner}/{name}/versions[/{id}]. The OpenAI-style routes of
 * API aggregators: `images-generate` (POST /v1/images/generations), `images-edit` (POST
 * /v1/images/edits) and `chat` (POST /v1/chat/completions); their faults answer OpenAI's
 * error body.
 */
export type Route =
  | 'create'
  | 'get'
  | 'cancel'
  | 'list'
  | 'model'
  | 'file'
  | 'upload'
  | 'get-file'
  | 'delete-file'
  | 'web'
  | 'images-generate'
  | 'images-edit'
  | 'chat'
  | 'webhook-secret'
  | 'search'
  | 'models-query'
  | 'models-create'
  | 'training-create'
  | 'training-get'
  | 'training-cancel'
  | 'model-versions'
  | 'model-version'
  | 'weights'
  | 'account';

/** A webhook event, as `webhook_events_filter` names them. */
export type WebhookEvent = 'start' | 'output' | 'logs' | 'completed';

/**
 * How the next deliveries of an event misbehave: `drop` (never sent), `duplicate` (sent twice,
 * the same id and signature: a replay), `forge` (signed with another secret), `stale` (dated
 * 10 minutes back, correctly signed), or `{ delayMs }` (sent that much later).
 */
export interface WebhookFault {
  /** Default `completed`. */
  readonly event?: WebhookEvent;
  readonly action: 'drop' | 'duplicate' | 'forge' | 'stale' | { readonly delayMs: number };
  /** How many deliveries of the event get it, the next ones first. Default 1. */
  readonly times?: number;
}

/** One webhook delivery the emulator made (or dropped), as tests read them back. */
export interface WebhookDelivery {
  readonly webhookId: string;
  /** The id of the prediction, or training, the delivery is about. */
  readonly predictionId: string;
  readonly event: WebhookEvent;
  readonly url: string;
  readonly fault?: WebhookFault['action'];
  /** Attempts made so far; 0 for a dropped delivery. */
  attempts: number;
  /** The receiver's answer to the last attempt, or `error` when none came. */
  status?: number | 'error';
  /** The receiver's answer to the second sending of a `duplicate`. */
  duplicateStatus?: number | 'error';
}

/**
 * What a faulted request gets instead of its answer: an HTTP status (with a problem body
 * unless `body` is given, a `Retry-After` header when `retryAfter` is given; `body` may be a
 * function of the request headers, to echo them; a string body is sent as text/html), a
 * connection `reset`, a `hang` (no answer
 * until the client gives up), or `malformed` JSON with status 200.
 */
export type FaultAnswer =
  'reset' | 'hang' | 'malformed' | { readonly status: number; readonly retryAfter?: string; readonly body?: unknown };

/** A fault injected with {@link Emulator.inject}. */
export interface Fault {
  readonly route: Route;
  readonly answer: FaultAnswer;
  /** How many matching requests get it, the next ones first. Default 1. */
  readonly times?: number;
  /**
   * Handle the request first (a create creates its prediction, a cancel cancels), then fault
   * the answer, as when an answer is lost on its way back. Default false: nothing happens.
   */
  readonly afterHandling?: boolean;
}

/** One HTTP request the emulator received, as tests read them back. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, e.g. `/v1/predictions/abc/cancel`. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /**
   * The parsed JSON body, or undefined. Uploads hold `{bytes}`; multipart image edits their
   * fields, with each `image` part as `{filename, type, bytes}`.
   */
  readonly body: unknown;
  /** How it was answered: the HTTP status, `reset` or `hang`; undefined while it is open. */
  outcome?: number | 'reset' | 'hang';
  /**
   * The status the emulator handled it with, also when an `afterHandling` fault then replaced
   * the answer (a create that made its prediction and hung has `handledAs` 201 or 202).
   * Undefined when a fault stopped it before handling.
   */
  handledAs?: number;
}

/** A running emulator. */
export interface Emulator {
  /** Base URL of its Replicate API, e.g. `http://127.0.0.1:40123/v1`: pass it as the runner's `baseUrl`. */
  readonly url: string;
  /**
   * Every API request received (not file downloads), oldest first, the `Authorization` header
   * redacted to `Bearer [REDACTED]`; the newest `maxRecorded` are kept.
   */
  readonly requests: RecordedRequest[];
  /** API requests answered 429 by the rate limits (not by injected faults) since the start. */
  readonly throttled: number;
  /**
   * Predictions made since the start (a create counts as soon as its prediction exists, before its
   * answer): tests wait on it to act while a run is in flight, without a request of their own.
   */
  readonly created: number;
  /** Makes the next `times` requests of a route fail as `answer` says. Faults apply in the order given. */
  inject(fault: Fault): void;
  /** Drops every fault not yet used (webhook faults and the delivery log too). */
  clearFaults(): void;
  /**
   * Webhooks: the signing secret (also served at GET /v1/webhooks/default/secret), the
   * deliveries made, oldest first (the newest `maxRecorded` kept), and `inject` to make the next
   * deliveries of an event misbehave.
   */
  readonly webhooks: {
    readonly secret: string;
    readonly deliveries: readonly WebhookDelivery[];
    inject(fault: WebhookFault): void;
  };
  /** Stops it: ends open connections and every prediction's timers. */
  close(): Promise<void>;
}

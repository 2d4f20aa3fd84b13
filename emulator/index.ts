import { createHash } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MODELS, type ModelSpec } from '../flux/catalog.js';
import { checkModelInput } from '../flux/check-input.js';
import sharp from 'sharp';
import { renderImage, type Size } from './image.js';
import { modelObject } from './model.js';
import { EmulatedPrediction, type PredictionPlan } from './prediction.js';

export type { PredictionPlan } from './prediction.js';

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
  /** Applies Replicate's rate limits per token: `true` for the documented ones, or your own. Default off. */
  readonly rateLimits?: boolean | RateLimits;
  /** How long a prediction's output stays after it ends, in ms. Default 3600000: Replicate keeps API outputs one hour. */
  readonly retentionMs?: number;
  /** How many requests {@link Emulator.requests} keeps, newest last. Default 1000. */
  readonly maxRecorded?: number;
  /** Longest sync wait granted to `Prefer: wait`, in s. Default 60, as Replicate; benchmarks shorten it to force polling. */
  readonly maxSyncWaitSeconds?: number;
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
}

/** The API routes, as faults name them. `file` is an output file download. */
export type Route = 'create' | 'get' | 'cancel' | 'list' | 'model' | 'file';

/**
 * What a faulted request gets instead of its answer: an HTTP status (with a problem body
 * unless `body` is given, a `Retry-After` header when `retryAfter` is given; `body` may be a
 * function of the request headers, to echo them; a string body is sent as text/html), a
 * connection `reset`, a `hang` (no answer
 * until the client gives up), or `malformed` JSON with status 200.
 */
export type FaultAnswer =
  | 'reset'
  | 'hang'
  | 'malformed'
  | { readonly status: number; readonly retryAfter?: string; readonly body?: unknown };

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
  /** The parsed JSON body, or undefined. */
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
  /** Makes the next `times` requests of a route fail as `answer` says. Faults apply in the order given. */
  inject(fault: Fault): void;
  /** Drops every fault not yet used. */
  clearFaults(): void;
  /** Stops it: ends open connections and every prediction's timers. */
  close(): Promise<void>;
}

const MAX_PREDICTIONS = 10_000;
const MAX_CACHED_IMAGES = 32;
// Room for input images sent as data: URIs.
const MAX_BODY_BYTES = 16 << 20;
const PAGE_SIZE = 100;

class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

/**
 * Starts a local Replicate-compatible HTTP server on 127.0.0.1 that runs the catalog's models
 * (`shared/models.ts`) as timed fakes. It speaks the Replicate HTTP API (OpenAPI spec
 * `openapi.json`) for create (POST /v1/models/{owner}/{name}/predictions and POST
 * /v1/predictions with `version`), get, cancel and list predictions, including `Prefer: wait`
 * and `Cancel-After`, and GET /v1/models/{owner}/{name} (official models, and community
 * versions with their Cog `openapi_schema`); it checks the Bearer token (401) and the input
 * (422 `Input validation failed` with `invalid_fields`; unlike Replicate it also refuses
 * parameters a model does not take, and input images it cannot read). Output URLs serve real
 * png, jpg or webp bytes of a placeholder picture, about 1 megapixel in the requested aspect
 * ratio, or sized from the first input image (`match_input_image`, Flux Fill, custom sizes).
 * It keeps at most 10000 predictions, forgetting the oldest that have ended.
 *
 * For failure tests it takes injected faults per route ({@link Emulator.inject}), applies
 * Replicate's rate limits as token buckets per token (`rateLimits`), deletes outputs after
 * `retentionMs` (`data_removed: true`, `output: null`, file URLs 404), and plays scripted
 * prediction ends (`plan`).
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const predictions = new Map<string, EmulatedPrediction>();
  const images = new Map<string, Promise<Buffer>>();
  const requests: RecordedRequest[] = [];
  const faults: Array<{ fault: Fault; left: number }> = [];
  const limits = options.rateLimits ? new Limiter(options.rateLimits === true ? {} : options.rateLimits) : undefined;
  const maxRecorded = options.maxRecorded ?? 1000;
  let throttled = 0;
  let baseUrl = '';

  const server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      const problem = error instanceof Problem ? error : new Problem(500, 'Internal Server Error', String(error));
      reply(res, problemAnswer(problem));
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const route = routeOf(req.method ?? 'GET', url.pathname);
    const body = route === 'file' ? undefined : await readJson(req);
    const record: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname + url.search, headers: redactAuthorization(req.headers), body };
    if (route !== 'file') {
      requests.push(record);
      if (requests.length > maxRecorded) requests.shift();
    }
    const slot = faults.find((f) => f.fault.route === route && f.left > 0);
    if (slot) slot.left -= 1;
    const fault = slot?.fault;
    if (fault && !fault.afterHandling) return applyFault(req, res, record, fault.answer);
    let answer: Answer;
    try {
      answer = await handle(req, res, url, route, body);
    } catch (error) {
      answer = problemAnswer(error instanceof Problem ? error : new Problem(500, 'Internal Server Error', String(error)));
    }
    record.handledAs = answer.status;
    if (fault) return applyFault(req, res, record, fault.answer);
    record.outcome = answer.status;
    reply(res, answer);
  }

  function applyFault(req: IncomingMessage, res: ServerResponse, record: RecordedRequest, answer: FaultAnswer): void {
    record.outcome = typeof answer === 'string' ? (answer === 'malformed' ? 200 : answer) : answer.status;
    if (answer === 'hang') return;
    if (answer === 'reset') return void req.socket.destroy();
    if (answer === 'malformed') return reply(res, { status: 200, body: Buffer.from('{"id": "abc", "status": "star'), type: 'application/json' });
    const body = typeof answer.body === 'function' ? (answer.body as (headers: IncomingHttpHeaders) => unknown)(req.headers) : answer.body;
    if (typeof body === 'string') return reply(res, { status: answer.status, body: Buffer.from(body), type: 'text/html' });
    const problem = problemAnswer(new Problem(answer.status, STATUS_CODES[answer.status] ?? 'Error', `Injected fault: status ${answer.status}.`));
    reply(res, {
      ...(body === undefined ? problem : { status: answer.status, body }),
      headers: answer.retryAfter === undefined ? {} : { 'Retry-After': answer.retryAfter },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL, route: Route | undefined, body: unknown): Promise<Answer> {
    if (route === 'file') {
      const [, id, index] = /^\/files\/([a-z2-7]+)\/out-(\d+)\./.exec(url.pathname)!;
      return serveImage(id!, Number(index));
    }
    const token = authorize(req.headers.authorization);
    const wait = limits?.wait(token, route === 'create' ? 'create' : 'other');
    if (wait !== undefined) {
      throttled += 1;
      const seconds = Math.max(1, Math.ceil(wait / 1000));
      return {
        ...problemAnswer(new Problem(429, 'Too Many Requests', `Request was throttled. Your rate limit resets in ~${seconds}s.`)),
        headers: { 'Retry-After': String(seconds) },
      };
    }
    const match = /^\/v1\/(?:models\/([^/]+)\/([^/]+)\/)?predictions(?:\/([^/]+))?/.exec(url.pathname);
    switch (route) {
      case 'create': {
        if (match?.[1]) return create(req, res, body, `${decodeURIComponent(match[1])}/${decodeURIComponent(match[2]!)}`);
        const version = (body as { version?: unknown } | undefined)?.version;
        if (typeof version !== 'string') throw invalid([{ field: 'version', type: 'required', description: 'version is required' }]);
        const model = Object.keys(MODELS).find((ref) => ref === version || ref.endsWith(`:${version}`));
        if (!model) throw new Problem(404, 'Not found', `Model version ${version} was not found.`);
        return create(req, res, body, model);
      }
      case 'list':
        return list(url);
      case 'model':
        return model(url.pathname.split('/').slice(3).map(decodeURIComponent).join('/'));
      case 'get':
        return { status: 200, body: find(match![3]!).toJSON() };
      case 'cancel': {
        const prediction = find(match![3]!);
        prediction.cancel();
        return { status: 200, body: prediction.toJSON() };
      }
      default:
        throw new Problem(404, 'Not found', `${req.method} ${url.pathname} is not part of the emulated API.`);
    }
  }

  /** The request's token. @throws {Problem} 401 when it is missing or not the one accepted. */
  function authorize(header: string | undefined): string {
    const token = /^Bearer (.+)$/.exec(header ?? '')?.[1]?.trim();
    if (!token) throw new Problem(401, 'Unauthenticated', 'You did not pass an authentication token');
    if (options.token !== undefined && token !== options.token) throw new Problem(401, 'Unauthenticated', 'You did not pass a valid authentication token');
    return token;
  }

  /** Creates a prediction of catalog entry `ref` (`owner/name` or `owner/name:version`). */
  async function create(req: IncomingMessage, res: ServerResponse, body: unknown, ref: string): Promise<Answer> {
    const spec: ModelSpec | undefined = (MODELS as Record<string, ModelSpec>)[ref];
    if (!spec) throw new Problem(404, 'Not found', `Model ${ref} was not found.`);
    const [model, version = officialVersion(ref)] = ref.split(':') as [string, string?];
    const input = (body as { input?: unknown } | undefined)?.input;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw invalid([{ field: 'input', type: 'required', description: 'input is required and must be an object' }]);
    }
    const problems = checkModelInput(spec, input as Record<string, unknown>);
    if (problems.length) throw invalid(problems.map(({ field, type, reason }) => ({ field: `input.${field}`, type, description: `${field} ${reason}` })));
    const source = await sourceSize(input as Record<string, unknown>);
    const asked = preferWait(req.headers.prefer?.toString());
    const wait = asked && Math.min(asked, options.maxSyncWaitSeconds ?? 60);
    const cancelAfterMs = cancelAfter(req.headers['cancel-after']);
    const plan = {
      startingMs: options.startingMs ?? 300,
      processingMs: options.processingMs ?? 1200,
      retentionMs: options.retentionMs ?? 3_600_000,
      ...options.plan?.({ model, input: input as Record<string, unknown> }),
    };
    const deadline = cancelAfterMs === undefined ? undefined : new Date(Date.now() + (plan.deadlineMs ?? cancelAfterMs));
    const prediction = new EmulatedPrediction(model, version, input as Record<string, unknown>, spec, plan, baseUrl, deadline, source);
    predictions.set(prediction.id, prediction);
    if (predictions.size > MAX_PREDICTIONS) forgetOldestEnded();
    if (wait) {
      // Sync mode: hold the answer until the prediction ends or the wait runs out; stop if the client leaves.
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      await prediction.settled(wait * 1000, gone.signal);
    }
    return { status: prediction.terminal ? 201 : 202, body: prediction.toJSON() };
  }

  function list(url: URL): Answer {
    const after = Date.parse(url.searchParams.get('created_after') ?? '') || -Infinity;
    const before = Date.parse(url.searchParams.get('created_before') ?? '') || Infinity;
    const all = [...predictions.values()]
      .filter((p) => p.createdAt.getTime() >= after && p.createdAt.getTime() < before)
      .reverse();
    const start = Number(url.searchParams.get('cursor') ?? 0) || 0;
    const page = (offset: number) => {
      const next = new URL(url);
      next.searchParams.set('cursor', String(offset));
      return next.toString();
    };
    return {
      status: 200,
      body: {
        results: all.slice(start, start + PAGE_SIZE).map((p) => p.toJSON()),
        next: start + PAGE_SIZE < all.length ? page(start + PAGE_SIZE) : null,
        previous: start > 0 ? page(Math.max(0, start - PAGE_SIZE)) : null,
      },
    };
  }

  /** GET /v1/models/{owner}/{name}: the catalog's model, its latest version being the last listed. */
  function model(name: string): Answer {
    const ref = Object.keys(MODELS).filter((r) => r.split(':')[0] === name).at(-1);
    if (!ref) throw new Problem(404, 'Not found', `Model ${name} was not found.`);
    const [, version] = ref.split(':');
    return { status: 200, body: modelObject(name, (MODELS as Record<string, ModelSpec>)[ref]!, version ?? officialVersion(ref), version === undefined) };
  }

  /**
   * The size of the first input image (`input_image`, `image`, `input_images[0]`): read from a
   * data: URI or a download, or known when it is one of this emulator's outputs.
   * @throws {Problem} 422 naming the field when it cannot be read as an image.
   */
  async function sourceSize(input: Record<string, unknown>): Promise<Size | undefined> {
    const images = Array.isArray(input.input_images) ? input.input_images : [];
    const [field, url] = input.input_image !== undefined ? ['input_image', input.input_image]
      : input.image !== undefined ? ['image', input.image]
      : images.length ? ['input_images.0', images[0]] : [];
    if (typeof url !== 'string') return undefined;
    const own = /^\/files\/([a-z2-7]+)\/out-(\d+)\./.exec(url.startsWith(baseUrl.replace(/\/v1$/, '')) ? new URL(url).pathname : '');
    if (own) {
      const spec = predictions.get(own[1]!)?.image(Number(own[2]));
      if (spec) return { width: spec.width, height: spec.height };
    }
    try {
      const bytes = url.startsWith('data:')
        ? Buffer.from(url.slice(url.indexOf(',') + 1), /;base64,/.test(url.slice(0, url.indexOf(',') + 1)) ? 'base64' : 'utf8')
        : Buffer.from(await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).arrayBuffer());
      const { width, height } = await sharp(bytes).metadata();
      if (width && height) return { width, height };
    } catch {
      // Reported below.
    }
    throw invalid([{ field: `input.${field}`, type: 'invalid', description: `${field} could not be read as an image` }]);
  }

  /** Bounds a long-running emulator's memory: drops the oldest prediction that has ended. */
  function forgetOldestEnded(): void {
    for (const [id, prediction] of predictions) {
      if (prediction.terminal) {
        predictions.delete(id);
        return;
      }
    }
  }

  function find(id: string): EmulatedPrediction {
    const prediction = predictions.get(id);
    if (!prediction) throw new Problem(404, 'Not found', `Prediction ${id} was not found.`);
    return prediction;
  }

  async function serveImage(id: string, index: number): Promise<Answer> {
    const spec = predictions.get(id)?.image(index);
    if (!spec) throw new Problem(404, 'Not found', 'No such output file (never made, or deleted after the retention time).');
    const key = `${id}/${index}`;
    let bytes = images.get(key);
    if (!bytes) {
      bytes = renderImage(spec);
      images.set(key, bytes);
      // A failed render is not cached: the next request tries again.
      bytes.catch(() => images.delete(key));
      if (images.size > MAX_CACHED_IMAGES) images.delete(images.keys().next().value!);
    }
    return { status: 200, body: await bytes, type: spec.format === 'jpg' ? 'image/jpeg' : `image/${spec.format}` };
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    url: baseUrl,
    requests,
    get throttled() {
      return throttled;
    },
    inject: (fault) => void faults.push({ fault, left: fault.times ?? 1 }),
    clearFaults: () => void faults.splice(0),
    close: () =>
      new Promise<void>((resolve) => {
        predictions.forEach((p) => p.dispose());
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * A stable 64-hex version id for an official model. Replicate answers `"hidden"` there, but the
 * published `schemas_prediction_response` refuses it (`"hidden"` matches both branches of its
 * `oneOf`), and the emulator's predictions must validate against that schema.
 */
function officialVersion(model: string): string {
  return createHash('sha256').update(model).digest('hex');
}

/** Which route a request is for, or undefined when it is none of the emulated API. */
function routeOf(method: string, path: string): Route | undefined {
  if (method === 'GET' && /^\/files\/[a-z2-7]+\/out-\d+\.(webp|jpg|png)$/.test(path)) return 'file';
  if (method === 'POST' && /^\/v1\/(models\/[^/]+\/[^/]+\/)?predictions$/.test(path)) return 'create';
  if (method === 'GET' && path === '/v1/predictions') return 'list';
  if (method === 'GET' && /^\/v1\/models\/[^/]+\/[^/]+$/.test(path)) return 'model';
  if (method === 'GET' && /^\/v1\/predictions\/[^/]+$/.test(path)) return 'get';
  if (method === 'POST' && /^\/v1\/predictions\/[^/]+\/cancel$/.test(path)) return 'cancel';
  return undefined;
}

/** Headers as recorded: the token never stays in the emulator's memory. */
function redactAuthorization(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  if (headers.authorization === undefined) return { ...headers };
  return { ...headers, authorization: headers.authorization.replace(/^(\S+\s+).*$|^.*$/s, (_, scheme: string | undefined) => `${scheme ?? ''}[REDACTED]`) };
}

/** Token buckets per API token, one for creates and one for other requests. */
class Limiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly lanes: Record<'create' | 'other', { perMs: number; burst: number }>;

  constructor(limits: RateLimits) {
    const creates = limits.createsPerMinute ?? 600;
    const others = limits.othersPerMinute ?? 3000;
    this.lanes = {
      create: { perMs: creates / 60_000, burst: limits.createBurst ?? Math.max(1, Math.round(creates / 6)) },
      other: { perMs: others / 60_000, burst: limits.otherBurst ?? Math.max(1, Math.round(others / 6)) },
    };
  }

  /** Takes a request's token from the bucket: undefined when it may go, else ms until it could. */
  wait(token: string, lane: 'create' | 'other'): number | undefined {
    const { perMs, burst } = this.lanes[lane];
    const key = `${lane}:${createHash('sha256').update(token).digest('hex')}`;
    const now = Date.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    return (1 - bucket.tokens) / perMs;
  }
}

function invalid(fields: Array<{ field: string; type: string; description: string }>): Problem {
  return new Problem(422, 'Input validation failed', fields.map((f) => `- ${f.description}`).join('\n'), { invalid_fields: fields });
}

/** Seconds from `Prefer: wait` or `wait=n` (1-60), or undefined when not asked. Source: `parameters_prefer_header`. */
function preferWait(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const match = /^\s*wait(?:=(\d+))?\s*$/.exec(header);
  if (!match) return undefined;
  const seconds = match[1] === undefined ? 60 : Number(match[1]);
  if (seconds < 1 || seconds > 60) throw new Problem(400, 'Bad Request', 'Prefer: wait=n takes n from 1 to 60 seconds.');
  return seconds;
}

/** Milliseconds from a `Cancel-After` duration (`30`, `90s`, `5m`, `1h30m45s`), at least 5 s. Source: `parameters_cancel_after_header`. */
function cancelAfter(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(String(header).trim());
  const ms = match && match[0] ? ((Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0)) * 60 + Number(match[3] ?? 0)) * 1000 : NaN;
  if (!(ms >= 5000)) throw new Problem(400, 'Bad Request', 'Cancel-After must be a duration of at least 5s, e.g. 30s, 5m or 1h30m.');
  return ms;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Problem(413, 'Content Too Large', 'Request bodies must be under 16 MiB.');
    chunks.push(chunk as Buffer);
  }
  if (!size) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Problem(400, 'Bad Request', 'The request body is not valid JSON.');
  }
}

/** An HTTP answer before it is sent (or replaced by a fault). */
interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly type?: string;
  readonly headers?: Record<string, string>;
}

function problemAnswer(problem: Problem): Answer {
  return {
    status: problem.status,
    body: { title: problem.title, detail: problem.detail, status: problem.status, ...problem.extra },
    type: 'application/problem+json',
  };
}

function reply(res: ServerResponse, { status, body, type = 'application/json', headers = {} }: Answer): void {
  if (res.writableEnded || res.destroyed) return;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': bytes.length }).end(bytes);
}

import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkModelInput, MODELS, type ModelSpec } from '../shared/models.js';
import { renderImage } from './image.js';
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
}

/** One HTTP request the emulator received, as tests read them back. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, e.g. `/v1/predictions/abc/cancel`. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The parsed JSON body, or undefined. */
  readonly body: unknown;
}

/** A running emulator. */
export interface Emulator {
  /** Base URL of its Replicate API, e.g. `http://127.0.0.1:40123/v1`: pass it as the runner's `baseUrl`. */
  readonly url: string;
  /** Every API request received (not image downloads), oldest first; the newest 1000 are kept. */
  readonly requests: RecordedRequest[];
  /** Stops it: ends open connections and every prediction's timers. */
  close(): Promise<void>;
}

const MAX_RECORDED = 1000;
const MAX_PREDICTIONS = 10_000;
const MAX_CACHED_IMAGES = 32;
const MAX_BODY_BYTES = 1 << 20;
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
 * and `Cancel-After`; it checks the Bearer token (401) and the input (422 `Input validation
 * failed` with `invalid_fields`; unlike Replicate it also refuses parameters a model does not
 * take). Output URLs serve real png, jpg or webp bytes of a placeholder picture, about 1
 * megapixel in the requested aspect ratio. It keeps at most 10000 predictions, forgetting the
 * oldest that have ended.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const predictions = new Map<string, EmulatedPrediction>();
  const images = new Map<string, Promise<Buffer>>();
  const requests: RecordedRequest[] = [];
  let baseUrl = '';

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const problem = error instanceof Problem ? error : new Problem(500, 'Internal Server Error', String(error));
      send(res, problem.status, { title: problem.title, detail: problem.detail, status: problem.status, ...problem.extra }, 'application/problem+json');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const file = /^\/files\/([a-z2-7]+)\/out-(\d+)\.(webp|jpg|png)$/.exec(url.pathname);
    if (req.method === 'GET' && file) return serveImage(res, file[1]!, Number(file[2]));

    const body = await readJson(req);
    requests.push({ method: req.method ?? 'GET', path: url.pathname + url.search, headers: req.headers, body });
    if (requests.length > MAX_RECORDED) requests.shift();
    authorize(req.headers.authorization);

    const route = `${req.method} ${url.pathname}`;
    let match: RegExpExecArray | null;
    if ((match = /^POST \/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(route))) {
      const model = `${decodeURIComponent(match[1]!)}/${decodeURIComponent(match[2]!)}`;
      return create(req, res, body, model);
    }
    if (route === 'POST /v1/predictions') {
      const version = (body as { version?: unknown } | undefined)?.version;
      if (typeof version !== 'string') throw invalid([{ field: 'version', type: 'required', description: 'version is required' }]);
      const model = Object.keys(MODELS).find((ref) => ref === version || ref.endsWith(`:${version}`));
      if (!model) throw new Problem(404, 'Not found', `Model version ${version} was not found.`);
      return create(req, res, body, model);
    }
    if (route === 'GET /v1/predictions') return list(res, url);
    if ((match = /^GET \/v1\/predictions\/([^/]+)$/.exec(route))) return send(res, 200, find(match[1]!).toJSON());
    if ((match = /^POST \/v1\/predictions\/([^/]+)\/cancel$/.exec(route))) {
      const prediction = find(match[1]!);
      prediction.cancel();
      return send(res, 200, prediction.toJSON());
    }
    throw new Problem(404, 'Not found', `${req.method} ${url.pathname} is not part of the emulated API.`);
  }

  function authorize(header: string | undefined): void {
    const token = /^Bearer (.+)$/.exec(header ?? '')?.[1]?.trim();
    if (!token) throw new Problem(401, 'Unauthenticated', 'You did not pass an authentication token');
    if (options.token !== undefined && token !== options.token) throw new Problem(401, 'Unauthenticated', 'You did not pass a valid authentication token');
  }

  /** Creates a prediction of catalog entry `ref` (`owner/name` or `owner/name:version`). */
  async function create(req: IncomingMessage, res: ServerResponse, body: unknown, ref: string): Promise<void> {
    const spec: ModelSpec | undefined = (MODELS as Record<string, ModelSpec>)[ref];
    if (!spec) throw new Problem(404, 'Not found', `Model ${ref} was not found.`);
    const [model, version = officialVersion(ref)] = ref.split(':') as [string, string?];
    const input = (body as { input?: unknown } | undefined)?.input;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw invalid([{ field: 'input', type: 'required', description: 'input is required and must be an object' }]);
    }
    const problems = checkModelInput(spec, input as Record<string, unknown>);
    if (problems.length) throw invalid(problems.map((p) => ({ ...p, field: `input.${p.field}` })));
    const wait = preferWait(req.headers.prefer?.toString());
    const cancelAfterMs = cancelAfter(req.headers['cancel-after']);
    const plan = { startingMs: options.startingMs ?? 300, processingMs: options.processingMs ?? 1200, ...options.plan?.({ model, input: input as Record<string, unknown> }) };
    const deadline = cancelAfterMs === undefined ? undefined : new Date(Date.now() + cancelAfterMs);
    const prediction = new EmulatedPrediction(model, version, input as Record<string, unknown>, spec, plan, baseUrl, deadline);
    predictions.set(prediction.id, prediction);
    if (predictions.size > MAX_PREDICTIONS) forgetOldestEnded();
    if (wait) {
      // Sync mode: hold the answer until the prediction ends or the wait runs out; stop if the client leaves.
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      await prediction.settled(wait * 1000, gone.signal);
    }
    send(res, prediction.terminal ? 201 : 202, prediction.toJSON());
  }

  function list(res: ServerResponse, url: URL): void {
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
    send(res, 200, {
      results: all.slice(start, start + PAGE_SIZE).map((p) => p.toJSON()),
      next: start + PAGE_SIZE < all.length ? page(start + PAGE_SIZE) : null,
      previous: start > 0 ? page(Math.max(0, start - PAGE_SIZE)) : null,
    });
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

  async function serveImage(res: ServerResponse, id: string, index: number): Promise<void> {
    const spec = predictions.get(id)?.image(index);
    if (!spec) throw new Problem(404, 'Not found', 'No such output file.');
    const key = `${id}/${index}`;
    let bytes = images.get(key);
    if (!bytes) {
      bytes = renderImage(spec);
      images.set(key, bytes);
      // A failed render is not cached: the next request tries again.
      bytes.catch(() => images.delete(key));
      if (images.size > MAX_CACHED_IMAGES) images.delete(images.keys().next().value!);
    }
    const type = spec.format === 'jpg' ? 'image/jpeg' : `image/${spec.format}`;
    send(res, 200, await bytes, type);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return {
    url: baseUrl,
    requests,
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
    if (size > MAX_BODY_BYTES) throw new Problem(413, 'Content Too Large', 'Request bodies must be under 1 MiB.');
    chunks.push(chunk as Buffer);
  }
  if (!size) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new Problem(400, 'Bad Request', 'The request body is not valid JSON.');
  }
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  if (res.writableEnded || res.destroyed) return;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': bytes.length }).end(bytes);
}

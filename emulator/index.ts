import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isFetchBadPort } from 'replicate-flux-blocks/shared/replicate/bad-ports.js';
import { applyFault, Faults } from './faults.js';
import { errorAnswer, parseJson, readBody, redactAuthorization, reply, type Answer } from './http.js';
import { formSummary } from './openai-routes.js';
import { EmulatedApi, routeOf } from './routes.js';
import type { Emulator, EmulatorOptions, RecordedRequest } from './types.js';

export { FETCH_BAD_PORTS, isFetchBadPort } from 'replicate-flux-blocks/shared/replicate/bad-ports.js';
export type { PredictionPlan } from './prediction.js';
export type {
  Emulator,
  EmulatorOptions,
  Fault,
  FaultAnswer,
  RateLimits,
  RecordedRequest,
  Route,
  WebhookDelivery,
  WebhookEvent,
  WebhookFault,
} from './types.js';

/**
 * Starts a local Replicate-compatible HTTP server on 127.0.0.1 that runs the catalog's models
 * (`shared/flux/catalog.ts`) as timed fakes. It speaks the Replicate HTTP API (OpenAPI spec
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
 * prediction ends (`plan`). Predictions and trainings created with `webhook` get signed
 * deliveries (`emulator/webhooks.ts`), whose secret GET /v1/webhooks/default/secret serves. A
 * succeeded training's `output.weights` URL serves a tar of fake LoRA safetensors
 * (`emulator/weights.ts`), and its new version is listed by GET /v1/models/{owner}/{name}/versions.
 * @throws Error for a `port` fetch refuses to connect to (`FETCH_BAD_PORTS`, e.g. 6000): no
 *   client could reach the emulator there.
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  if (options.port !== undefined && isFetchBadPort(options.port)) {
    throw new Error(
      `Port ${options.port} is one that fetch refuses to connect to (the Fetch standard's bad ports), so no client could reach the emulator there; pick another port`,
    );
  }
  const requests: RecordedRequest[] = [];
  const faults = new Faults();
  const maxRecorded = options.maxRecorded ?? 1000;
  let baseUrl = '';
  const api = new EmulatedApi(options, () => baseUrl);

  const server = createServer((req, res) => {
    // Only a body refused while it was still arriving gets here: close, as the rest is unread.
    serve(req, res).catch((error: unknown) => reply(res, { ...errorAnswer(error), headers: { Connection: 'close' } }));
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const started = Date.now();
    if (options.log)
      res.once('finish', () =>
        options.log!(`${req.method} ${url.pathname}${url.search} ${res.statusCode} ${Date.now() - started} ms`),
      );
    const route = routeOf(req.method ?? 'GET', url.pathname);
    const raw = route === 'file' || route === 'web' ? Buffer.alloc(0) : await readBody(req, api.maxBodyBytes(route));
    // Uploads are recorded by size: their bytes would fill the log; edits by their fields and parts.
    const body =
      route === 'upload'
        ? { bytes: raw.length }
        : route === 'images-edit'
          ? await formSummary(req.headers['content-type'], raw)
          : tryJson(raw);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname + url.search,
      headers: redactAuthorization(req.headers),
      body,
    };
    if (route !== 'file' && route !== 'web') {
      requests.push(record);
      if (requests.length > maxRecorded) requests.shift();
    }
    const fault = faults.take(route);
    if (fault && !fault.afterHandling) return applyFault(req, res, record, fault);
    let answer: Answer;
    try {
      answer = await api.handle(req, res, url, route, raw);
    } catch (error) {
      answer = errorAnswer(error);
    }
    record.handledAs = answer.status;
    if (fault) return applyFault(req, res, record, fault);
    record.outcome = answer.status;
    reply(res, answer);
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
      return api.throttled;
    },
    get created() {
      return api.created;
    },
    inject: (fault) => faults.add(fault),
    clearFaults: () => {
      faults.clear();
      api.webhooks.clear();
    },
    webhooks: {
      secret: api.webhooks.secret,
      deliveries: api.webhooks.deliveries,
      inject: (fault) => api.webhooks.inject(fault),
    },
    close: () =>
      new Promise<void>((resolve) => {
        api.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The body as JSON for the request log, or undefined when it is empty or not JSON. */
function tryJson(raw: Buffer): unknown {
  try {
    return parseJson(raw);
  } catch {
    return undefined;
  }
}

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import sharp from 'sharp';
import { MODELS, type ModelSpec } from 'replicate-flux-blocks/shared/flux/catalog.js';
import { checkModelInput } from 'replicate-flux-blocks/shared/flux/check-input.js';
import { ownOutputFile, parseOutputFile } from './files.js';
import { FilesApi, MAX_FILE_BYTES } from './files-api.js';
import { cancelAfter, invalid, parseJson, preferWait, Problem, problemAnswer, type Answer } from './http.js';
import { modelObject } from './model.js';
import { OPENAI_ROUTES, OpenAiRoutes } from './openai-routes.js';
import { EmulatedPrediction } from './prediction.js';
import { TokenBuckets } from './rate-limits.js';
import { renderImage, type Size } from './image.js';
import { searchModels } from './search.js';
import { TrainingsApi } from './trainings.js';
import type { EmulatorOptions, RateLimits, Route } from './types.js';
import { invalidFields } from './validation.js';
import { parseWeightsPath } from './weights.js';
import { newWebhookSecret, webhookRequest, WebhookSender } from './webhooks.js';

const MAX_PREDICTIONS = 10_000;
const MAX_CACHED_IMAGES = 32;
const PAGE_SIZE = 100;
/** Replicate's limit for accounts low on credit: 6 creates per minute, burst 1 (replicate.com/docs/topics/predictions/rate-limits). */
const LOW_CREDIT: RateLimits = { createsPerMinute: 6, createBurst: 1 };

/** Which route a request is for, or undefined when it is none of the emulated API. */
export function routeOf(method: string, path: string): Route | undefined {
  if (method === 'GET' && parseOutputFile(path)) return 'file';
  if (method === 'GET' && parseWeightsPath(path)) return 'weights';
  if (method === 'GET' && /^\/p\/[a-z2-7]+$/.test(path)) return 'web';
  if (method === 'POST' && path === '/v1/files') return 'upload';
  if (method === 'GET' && /^\/v1\/files\/[^/]+(\/download)?$/.test(path)) return 'get-file';
  if (method === 'DELETE' && /^\/v1\/files\/[^/]+$/.test(path)) return 'delete-file';
  if (method === 'POST' && /^\/v1\/(models\/[^/]+\/[^/]+\/)?predictions$/.test(path)) return 'create';
  if (method === 'GET' && path === '/v1/predictions') return 'list';
  if (method === 'GET' && /^\/v1\/models\/[^/]+\/[^/]+$/.test(path)) return 'model';
  if (method === 'GET' && /^\/v1\/models\/[^/]+\/[^/]+\/versions$/.test(path)) return 'model-versions';
  if (method === 'GET' && /^\/v1\/models\/[^/]+\/[^/]+\/versions\/[^/]+$/.test(path)) return 'model-version';
  if (method === 'GET' && /^\/v1\/predictions\/[^/]+$/.test(path)) return 'get';
  if (method === 'GET' && path === '/v1/webhooks/default/secret') return 'webhook-secret';
  if (method === 'GET' && path === '/v1/account') return 'account';
  if (method === 'POST' && /^\/v1\/predictions\/[^/]+\/cancel$/.test(path)) return 'cancel';
  if (method === 'GET' && path === '/v1/search') return 'search';
  if (method === 'QUERY' && path === '/v1/models') return 'models-query';
  if (method === 'POST' && path === '/v1/models') return 'models-create';
  if (method === 'POST' && /^\/v1\/models\/[^/]+\/[^/]+\/versions\/[^/]+\/trainings$/.test(path))
    return 'training-create';
  if (method === 'GET' && /^\/v1\/trainings\/[^/]+$/.test(path)) return 'training-get';
  if (method === 'POST' && /^\/v1\/trainings\/[^/]+\/cancel$/.test(path)) return 'training-cancel';
  if (method === 'POST' && path === '/v1/images/generations') return 'images-generate';
  if (method === 'POST' && path === '/v1/images/edits') return 'images-edit';
  if (method === 'POST' && path === '/v1/chat/completions') return 'chat';
  return undefined;
}

/**
 * The emulated Replicate API behind the HTTP server: its predictions, their output files, and
 * the rate limits. Answers one request at a time ({@link handle}); faults are applied around it.
 */
export class EmulatedApi {
  private readonly predictions = new Map<string, EmulatedPrediction>();
  private readonly images = new Map<string, Promise<Buffer>>();
  private readonly limits: TokenBuckets | undefined;
  private readonly files: FilesApi;
  private readonly openai: OpenAiRoutes;
  private readonly trainings: TrainingsApi;
  /** API requests answered 429 by the rate limits. */
  throttled = 0;
  /** Predictions made since the start. */
  created = 0;
  /** Webhook deliveries of predictions and trainings created with `webhook`. */
  readonly webhooks: WebhookSender;

  constructor(
    private readonly options: EmulatorOptions,
    /** Base URL of the API, e.g. `http://127.0.0.1:40123/v1`, once the server listens. */
    private readonly baseUrl: () => string,
  ) {
    const { rateLimits } = options;
    this.limits = rateLimits
      ? new TokenBuckets(rateLimits === true ? {} : rateLimits === 'low-credit' ? LOW_CREDIT : rateLimits)
      : undefined;
    this.files = new FilesApi(baseUrl);
    this.webhooks = new WebhookSender(options.webhookSecret ?? newWebhookSecret(), options.maxRecorded ?? 1000);
    this.trainings = new TrainingsApi(
      baseUrl,
      { startingMs: options.startingMs ?? 300, trainingMs: options.trainingMs ?? 1500 },
      this.webhooks,
    );
    this.openai = new OpenAiRoutes(options, baseUrl, (token) => {
      const wait = this.limits?.wait(token, 'create');
      if (wait !== undefined) this.throttled += 1;
      return wait;
    });
  }

  /** Largest body a request of `route` may carry, in bytes. */
  maxBodyBytes(route: Route | undefined): number {
    return route === 'upload' ? MAX_FILE_BYTES + 64 * 1024 : (this.options.maxBodyBytes ?? 16 << 20);
  }

  /** Stops every prediction's timers. */
  close(): void {
    this.predictions.forEach((p) => p.dispose());
    this.webhooks.close();
  }

  /**
   * Answers one request. `body` is the raw body: parsed as JSON for the API routes, as a
   * multipart form for uploads.
   */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    route: Route | undefined,
    raw: Buffer,
  ): Promise<Answer> {
    if (route === 'file') {
      const { id, index } = parseOutputFile(url.pathname)!;
      return this.serveImage(id, index);
    }
    if (route === 'web') return this.webPage(url.pathname.slice(3));
    if (route === 'weights') return this.trainings.weights(parseWeightsPath(url.pathname)!);
    if (route && OPENAI_ROUTES.includes(route)) return this.openai.handle(req, route, raw);
    const token = this.authorize(req.headers.authorization);
    const wait = this.limits?.wait(token, route === 'create' ? 'create' : 'other');
    if (wait !== undefined) {
      this.throttled += 1;
      const seconds = Math.max(1, Math.ceil(wait / 1000));
      const header =
        this.options.rateLimits !== true &&
        typeof this.options.rateLimits === 'object' &&
        this.options.rateLimits.retryAfterHeader === false;
      return {
        ...problemAnswer(
          new Problem(429, 'Request was throttled', `Request was throttled. Your rate limit resets in ~${seconds}s.`, {
            retry_after: seconds,
          }),
        ),
        headers: header ? {} : { 'Retry-After': String(seconds) },
      };
    }
    if (route === 'upload') return this.files.upload(req.headers['content-type'], raw);
    const fileId = /^\/v1\/files\/([^/]+)/.exec(url.pathname)?.[1];
    if (route === 'get-file')
      return url.pathname.endsWith('/download') ? this.files.download(fileId!) : this.files.get(fileId!);
    if (route === 'delete-file') return this.files.delete(fileId!);
    const training = this.trainingRoute(url, route, raw);
    if (training) return training;
    const body = parseJson(raw);
    const match = /^\/v1\/(?:models\/([^/]+)\/([^/]+)\/)?predictions(?:\/([^/]+))?/.exec(url.pathname);
    switch (route) {
      case 'create': {
        if (match?.[1])
          return this.create(req, res, body, `${decodeURIComponent(match[1])}/${decodeURIComponent(match[2]!)}`);
        const version = (body as { version?: unknown } | undefined)?.version;
        if (typeof version !== 'string')
          throw invalid([{ field: 'version', type: 'required', description: 'version is required' }]);
        // `owner/name:id` or a bare id.
        const versionId = version.slice(version.indexOf(':') + 1);
        const trained = this.trainings.trainedVersion(versionId);
        if (trained) return this.create(req, res, body, `${trained.model}:${versionId}`, trained.spec);
        const model = Object.keys(MODELS).find((ref) => ref === version || ref.endsWith(`:${version}`));
        // Replicate answers an unknown version, or one the account may not use, with this 422.
        if (!model)
          throw new Problem(
            422,
            'Invalid version or not permitted',
            "The specified version does not exist (or perhaps you don't have permission to use it?)",
          );
        return this.create(req, res, body, model);
      }
      case 'list':
        return this.list(url);
      case 'webhook-secret':
        return { status: 200, body: { key: this.webhooks.secret } };
      case 'account':
        // Replicate's GET /v1/account shape; hosts (n8n's credential test) call it to check a token.
        return { status: 200, body: { type: 'user', username: 'emulator', name: 'Emulator', github_url: null } };
      case 'model':
        return this.model(url.pathname.split('/').slice(3).map(decodeURIComponent).join('/'));
      case 'model-versions':
      case 'model-version': {
        const [, , , owner, name, , version] = url.pathname.split('/').map(decodeURIComponent);
        return this.versions(`${owner}/${name}`, version);
      }
      case 'get':
        return { status: 200, body: this.find(match![3]!).toJSON() };
      case 'cancel': {
        const prediction = this.find(match![3]!);
        prediction.cancel();
        return { status: 200, body: prediction.toJSON() };
      }
      default:
        throw new Problem(404, 'Not found', `${req.method} ${url.pathname} is not part of the emulated API.`);
    }
  }

  /** The request's token. @throws {Problem} 401 when it is missing or not the one accepted. */
  private authorize(header: string | undefined): string {
    const token = /^Bearer (.+)$/.exec(header ?? '')?.[1]?.trim();
    if (!token) throw new Problem(401, 'Unauthenticated', 'You did not pass an authentication token');
    if (this.options.token !== undefined && token !== this.options.token)
      throw new Problem(401, 'Unauthenticated', 'You did not pass a valid authentication token');
    return token;
  }

  /** Creates a prediction of catalog entry `ref` (`owner/name` or `owner/name:version`). */
  private async create(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    ref: string,
    trainedSpec?: ModelSpec,
  ): Promise<Answer> {
    const spec: ModelSpec | undefined =
      trainedSpec ?? (Object.hasOwn(MODELS, ref) ? (MODELS as Record<string, ModelSpec>)[ref] : undefined);
    if (!spec) throw new Problem(404, 'Not found', `Model ${ref} was not found.`);
    if (this.options.insufficientCredit) {
      throw new Problem(
        402,
        'Insufficient credit',
        'You have insufficient credit to run this model. Go to https://replicate.com/account/billing#billing to purchase credit. Once you purchase credit, please wait a few minutes before trying again.',
      );
    }
    const [model, version = officialVersion(ref)] = ref.split(':') as [string, string?];
    const input = (body as { input?: unknown } | undefined)?.input;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw invalid([{ field: 'input', type: 'required', description: 'input is required and must be an object' }]);
    }
    const problems = checkModelInput(spec, input as Record<string, unknown>);
    if (problems.length) throw invalid(invalidFields(problems));
    // A LoRA made here must exist, as a real model fails to download one that does not.
    const lora = this.trainings.loraWeightsProblem((input as Record<string, unknown>).lora_weights);
    if (lora) throw invalid([{ field: 'input.lora_weights', type: 'invalid', description: lora }]);
    const webhook = webhookRequest(body);
    const source = await this.sourceSize(input as Record<string, unknown>);
    const asked = preferWait(req.headers.prefer?.toString());
    const wait = asked && Math.min(asked, this.options.maxSyncWaitSeconds ?? 60);
    const cancelAfterMs = cancelAfter(req.headers['cancel-after']);
    const plan = {
      startingMs: this.options.startingMs ?? 300,
      processingMs: this.options.processingMs ?? 1200,
      retentionMs: this.options.retentionMs ?? 3_600_000,
      ...this.options.plan?.({ model, input: input as Record<string, unknown> }),
    };
    const deadline =
      cancelAfterMs === undefined ? undefined : new Date(Date.now() + (plan.deadlineMs ?? cancelAfterMs));
    const prediction = new EmulatedPrediction(
      model,
      version,
      input as Record<string, unknown>,
      spec,
      plan,
      this.baseUrl(),
      deadline,
      source,
    );
    this.predictions.set(prediction.id, prediction);
    this.created += 1;
    if (this.predictions.size > MAX_PREDICTIONS) this.forgetOldestEnded();
    if (webhook) this.webhooks.follow(prediction, webhook);
    if (wait) {
      // Sync mode: hold the answer until the prediction ends or the wait runs out; stop if the client leaves.
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      await prediction.settled(wait * 1000, gone.signal);
    }
    // When the sync wait ends first, Replicate answers the prediction as it is, with its URL.
    const json = prediction.toJSON();
    return {
      status: prediction.terminal ? 201 : 202,
      body: json,
      headers: prediction.terminal ? {} : { Location: (json.urls as { get: string }).get },
    };
  }

  /** The search, models and trainings routes (their bodies are not all JSON); undefined for other routes. */
  private trainingRoute(url: URL, route: Route | undefined, raw: Buffer): Answer | undefined {
    const id = /^\/v1\/trainings\/([^/]+)/.exec(url.pathname)?.[1];
    switch (route) {
      case 'search':
        return searchModels(
          this.searchable(),
          url.searchParams.get('query') ?? '',
          url.searchParams.get('limit'),
          'search',
        );
      case 'models-query':
        return searchModels(this.searchable(), raw.toString('utf8'), null, 'query');
      case 'models-create':
        return this.trainings.createModel(parseJson(raw));
      case 'training-create': {
        const [, , , owner, name, , version] = url.pathname.split('/').map(decodeURIComponent);
        return this.trainings.createTraining(`${owner}/${name}`, version!, parseJson(raw));
      }
      case 'training-get':
        return this.trainings.getTraining(id!);
      case 'training-cancel':
        return this.trainings.cancelTraining(id!);
      default:
        return undefined;
    }
  }

  /** Every model search can find: the catalog's (latest version of each) and those made through the API. */
  private searchable(): Record<string, unknown>[] {
    const names = [...new Set(Object.keys(MODELS).map((ref) => ref.split(':')[0]!))];
    return [...names.map((name) => this.model(name).body as Record<string, unknown>), ...this.trainings.searchable()];
  }

  /** A prediction's web page (`urls.web`): a minimal HTML page with its status. */
  private webPage(id: string): Answer {
    const prediction = this.find(id);
    const html = `<!doctype html><title>Prediction ${id}</title><h1>Prediction ${id}</h1><p>Model ${prediction.model}: ${prediction.status}</p>`;
    return { status: 200, body: Buffer.from(html), type: 'text/html; charset=utf-8' };
  }

  private list(url: URL): Answer {
    const after = Date.parse(url.searchParams.get('created_after') ?? '') || -Infinity;
    const before = Date.parse(url.searchParams.get('created_before') ?? '') || Infinity;
    const all = [...this.predictions.values()]
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

  /**
   * GET /v1/models/{owner}/{name}/versions (`version` undefined) or .../versions/{version}: the
   * versions trained into a model made here, or a catalog model's latest version.
   */
  private versions(name: string, version: string | undefined): Answer {
    const made = version === undefined ? this.trainings.versions(name) : this.trainings.version(name, version);
    if (made) return made;
    const latest = (this.model(name).body as { latest_version: { id: string } }).latest_version;
    if (version === undefined) return { status: 200, body: { next: null, previous: null, results: [latest] } };
    if (version !== latest.id) throw new Problem(404, 'Not found', `Version ${version} of ${name} was not found.`);
    return { status: 200, body: latest };
  }

  /** GET /v1/models/{owner}/{name}: the catalog's model, its latest version being the last listed. */
  private model(name: string): Answer {
    const made = this.trainings.model(name);
    if (made) return made;
    const ref = Object.keys(MODELS)
      .filter((r) => r.split(':')[0] === name)
      .at(-1);
    if (!ref) throw new Problem(404, 'Not found', `Model ${name} was not found.`);
    const [, version] = ref.split(':');
    return {
      status: 200,
      body: modelObject(
        name,
        (MODELS as Record<string, ModelSpec>)[ref]!,
        version ?? officialVersion(ref),
        version === undefined,
      ),
    };
  }

  /**
   * The size of the first input image (`input_image`, `image`, `input_images[0]`): read from a
   * data: URI or a download, or known when it is one of this emulator's outputs.
   * @throws {Problem} 422 naming the field when it cannot be read as an image.
   */
  private async sourceSize(input: Record<string, unknown>): Promise<Size | undefined> {
    const images = Array.isArray(input.input_images) ? input.input_images : [];
    const [field, url] =
      input.input_image !== undefined
        ? ['input_image', input.input_image]
        : input.image !== undefined
          ? ['image', input.image]
          : images.length
            ? ['input_images.0', images[0]]
            : [];
    if (typeof url !== 'string') return undefined;
    const own = ownOutputFile(url, this.baseUrl());
    const spec = own && this.predictions.get(own.id)?.image(own.index);
    if (spec) return { width: spec.width, height: spec.height };
    try {
      const bytes =
        this.files.bytesOf(url) ??
        (url.startsWith('data:')
          ? Buffer.from(
              url.slice(url.indexOf(',') + 1),
              /;base64,/.test(url.slice(0, url.indexOf(',') + 1)) ? 'base64' : 'utf8',
            )
          : Buffer.from(await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).arrayBuffer()));
      const { width, height } = await sharp(bytes).metadata();
      if (width && height) return { width, height };
    } catch {
      // Reported below.
    }
    throw invalid([
      { field: `input.${field}`, type: 'invalid', description: `${field} could not be read as an image` },
    ]);
  }

  /** Bounds a long-running emulator's memory: drops the oldest prediction that has ended. */
  private forgetOldestEnded(): void {
    for (const [id, prediction] of this.predictions) {
      if (prediction.terminal) {
        this.predictions.delete(id);
        return;
      }
    }
  }

  private find(id: string): EmulatedPrediction {
    const prediction = this.predictions.get(id);
    if (!prediction) throw new Problem(404, 'Not found', `Prediction ${id} was not found.`);
    return prediction;
  }

  private async serveImage(id: string, index: number): Promise<Answer> {
    const prediction = this.predictions.get(id);
    const spec = prediction?.image(index) ?? this.openai.image(id, index);
    if (!spec)
      throw new Problem(404, 'Not found', 'No such output file (never made, or deleted after the retention time).');
    const type = spec.format === 'jpg' ? 'image/jpeg' : `image/${spec.format}`;
    const given = prediction?.outputBytes;
    if (given) return { status: 200, body: Buffer.from(given), type };
    const key = `${id}/${index}`;
    let bytes = this.images.get(key);
    if (!bytes) {
      bytes = renderImage(spec);
      this.images.set(key, bytes);
      // A failed render is not cached: the next request tries again.
      bytes.catch(() => this.images.delete(key));
      if (this.images.size > MAX_CACHED_IMAGES) this.images.delete(this.images.keys().next().value!);
    }
    return { status: 200, body: await bytes, type };
  }
}

/**
 * A stable 64-hex version id for an official model. Replicate answers `"hidden"` there, but the
 * published `schemas_prediction_response` refuses it (`"hidden"` matches both branches of its
 * `oneOf`), and the emulator's predictions must validate against that schema.
 */
function officialVersion(model: string): string {
  return createHash('sha256').update(model).digest('hex');
}

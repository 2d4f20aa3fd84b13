import { createHash } from 'node:crypto';
import { MODELS, type ModelSpec, type ParamSpec } from 'replicate-flux-blocks/shared/flux/catalog.js';
import { checkModelInput } from 'replicate-flux-blocks/shared/flux/check-input.js';
import { originOf } from './files.js';
import { invalid, Problem, type Answer } from './http.js';
import { newId } from './ids.js';
import { modelObject } from './model.js';
import { invalidFields } from './validation.js';
import { loraSafetensors, LORA_FILE, parseWeightsPath, tarArchive, weightsPath } from './weights.js';
import { webhookRequest, type Followed, type WebhookSender } from './webhooks.js';

/** Trainings and models made since the start, at most: past it creates answer 429. */
const MAX_TRAININGS = 1_000;
const MAX_MODELS = 1_000;

const uri: ParamSpec = { type: 'string', format: 'uri' };

/**
 * The Flux LoRA trainers the emulator knows, with the inputs of their `train()`
 * (tests/fixtures/flux-trainer.json says where they come from).
 */
export const TRAINERS: Readonly<Record<string, ModelSpec>> = {
  'ostris/flux-dev-lora-trainer': {
    output: 'single',
    inputs: {
      input_images: { ...uri, required: true },
      trigger_word: { type: 'string', default: 'TOK' },
      autocaption: { type: 'boolean', default: true },
      autocaption_prefix: { type: 'string' },
      autocaption_suffix: { type: 'string' },
      steps: { type: 'integer', minimum: 3, maximum: 6000, default: 1000 },
      lora_rank: { type: 'integer', minimum: 1, maximum: 128, default: 16 },
      learning_rate: { type: 'number', default: 0.0004 },
      batch_size: { type: 'integer', minimum: 1, default: 1 },
      resolution: { type: 'string', default: '512,768,1024' },
      caption_dropout_rate: { type: 'number', minimum: 0, maximum: 1, default: 0.05 },
      optimizer: { type: 'string', default: 'adamw8bit' },
      cache_latents_to_disk: { type: 'boolean', default: false },
    },
  },
};

/** A trainer's spec by `owner/name`; own keys only, so `__proto__` is no trainer. */
const trainerSpec = (name: string): ModelSpec | undefined =>
  Object.hasOwn(TRAINERS, name) ? TRAINERS[name] : undefined;

/** What a trained version takes: Flux Dev's input and the LoRA's strength. */
const TRAINED_SPEC: ModelSpec = {
  output: 'list',
  inputs: {
    ...MODELS['black-forest-labs/flux-dev'].inputs,
    lora_scale: { type: 'number', minimum: -1, maximum: 3, default: 1 },
  },
};

/** A stable 64-hex version id for a name. */
const versionOf = (name: string) => createHash('sha256').update(`version:${name}`).digest('hex');

interface CreatedModel {
  readonly owner: string;
  readonly name: string;
  readonly visibility: string;
  readonly hardware: string;
  /** Versions trained into it, oldest first. */
  readonly versions: Array<{ readonly id: string; readonly createdAt: Date }>;
}

type TrainingStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';

/** One training: its clock-driven status, `step n/N` logs and, at the end, a new version. */
class EmulatedTraining implements Followed {
  readonly id = newId();
  readonly createdAt = new Date();
  private canceledAt: Date | undefined;
  private readonly steps: number;
  readonly newVersion = versionOf(this.id);

  constructor(
    readonly trainer: string,
    readonly trainerVersion: string,
    readonly destination: string,
    readonly input: Record<string, unknown>,
    private readonly startingMs: number,
    private readonly trainingMs: number,
    private readonly baseUrl: string,
    private readonly onSucceeded: (training: EmulatedTraining) => void,
  ) {
    this.steps = typeof input.steps === 'number' ? input.steps : 1000;
  }

  private elapsed(): number {
    return (this.canceledAt ?? new Date()).getTime() - this.createdAt.getTime();
  }

  get status(): TrainingStatus {
    if (this.canceledAt) return 'canceled';
    const elapsed = this.elapsed();
    if (elapsed < this.startingMs) return 'starting';
    if (elapsed < this.startingMs + this.trainingMs) return 'processing';
    this.succeed();
    return 'succeeded';
  }

  private done = false;
  /** Adds the new version to the destination once, when the clock first shows success. */
  private succeed(): void {
    if (this.done) return;
    this.done = true;
    this.onSucceeded(this);
  }

  cancel(): void {
    const status = this.status;
    if (status === 'starting' || status === 'processing') this.canceledAt = new Date();
    [...this.waiters].forEach((wake) => wake());
  }

  get terminal(): boolean {
    return this.status === 'succeeded' || this.status === 'canceled';
  }

  private readonly waiters = new Set<() => void>();

  /** Resolves when it ends (its clock runs out, or it is canceled), after `ms`, or when `signal` aborts. */
  settled(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.terminal || signal?.aborted) return resolve();
      const left = this.startingMs + this.trainingMs - this.elapsed();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, left)));
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Its trained weights, once it succeeded: a tar holding the LoRA's safetensors (see weights.ts). */
  weights(): Buffer | undefined {
    if (this.status !== 'succeeded') return undefined;
    const rank = typeof this.input.lora_rank === 'number' ? this.input.lora_rank : 16;
    const trigger = typeof this.input.trigger_word === 'string' ? this.input.trigger_word : 'TOK';
    const completed = new Date(this.createdAt.getTime() + this.startingMs + this.trainingMs);
    return tarArchive([{ name: LORA_FILE, bytes: loraSafetensors(rank, trigger, this.id) }], completed);
  }

  /** The logs so far: a line per tenth of the steps, as `flux_train_replicate: step n/N`. */
  private logs(): string {
    const fraction = Math.min(1, Math.max(0, (this.elapsed() - this.startingMs) / this.trainingMs));
    const tenths = Math.floor(fraction * 10);
    const lines = ['Extracting input_images...'];
    for (let i = 1; i <= tenths; i++)
      lines.push(`flux_train_replicate: step ${Math.round((this.steps * i) / 10)}/${this.steps}`);
    return lines.join('\n');
  }

  toJSON(): Record<string, unknown> {
    const status = this.status;
    const api = `${this.baseUrl}/trainings/${this.id}`;
    const started = status !== 'starting' ? new Date(this.createdAt.getTime() + this.startingMs) : null;
    return {
      id: this.id,
      model: this.trainer,
      version: this.trainerVersion,
      input: this.input,
      status,
      source: 'api',
      logs: status === 'starting' ? '' : this.logs(),
      output:
        status === 'succeeded'
          ? {
              version: `${this.destination}:${this.newVersion}`,
              weights: `${originOf(this.baseUrl)}${weightsPath(this.id)}`,
            }
          : null,
      error: null,
      metrics: status === 'succeeded' ? { predict_time: this.trainingMs / 1000 } : {},
      created_at: this.createdAt.toISOString(),
      started_at: started?.toISOString() ?? null,
      completed_at:
        status === 'succeeded'
          ? new Date(this.createdAt.getTime() + this.startingMs + this.trainingMs).toISOString()
          : (this.canceledAt?.toISOString() ?? null),
      urls: { get: api, cancel: `${api}/cancel`, web: `https://replicate.com/p/${this.id}` },
    };
  }
}

/**
 * Models made through the API (POST /v1/models), the trainers, trainings (POST
 * /v1/models/{owner}/{name}/versions/{version}/trainings, GET /v1/trainings/{id}, POST
 * /v1/trainings/{id}/cancel), and the versions trainings made, which run as Flux Dev with a LoRA.
 */
export class TrainingsApi {
  private readonly models = new Map<string, CreatedModel>();
  private readonly trainings = new Map<string, EmulatedTraining>();
  /** Trained version id → `owner/name`. */
  private readonly trained = new Map<string, string>();

  constructor(
    private readonly baseUrl: () => string,
    private readonly timing: { startingMs: number; trainingMs: number },
    /** Sends the deliveries of trainings created with `webhook`, as for predictions. */
    private readonly webhooks: WebhookSender,
  ) {}

  /** POST /v1/models: `{owner, name, visibility, hardware}`, all required; 409 when it exists. */
  createModel(body: unknown): Answer {
    const fields = (body ?? {}) as Record<string, unknown>;
    const missing = ['owner', 'name', 'visibility', 'hardware'].filter(
      (f) => typeof fields[f] !== 'string' || !fields[f],
    );
    if (missing.length)
      throw invalid(missing.map((field) => ({ field, type: 'required', description: `${field} is required` })));
    const [owner, name, visibility, hardware] = ['owner', 'name', 'visibility', 'hardware'].map((f) =>
      String(fields[f]),
    );
    if (visibility !== 'public' && visibility !== 'private')
      throw invalid([{ field: 'visibility', type: 'enum', description: 'visibility must be public or private' }]);
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(name!))
      throw invalid([
        { field: 'name', type: 'invalid', description: 'name may hold lowercase letters, digits, - _ .' },
      ]);
    const key = `${owner}/${name}`;
    if (this.models.has(key) || this.catalogHas(key))
      throw new Problem(409, 'Conflict', `A model named ${key} already exists.`);
    if (this.models.size >= MAX_MODELS) throw new Problem(429, 'Too many models', 'The emulator holds no more models.');
    const model: CreatedModel = {
      owner: owner!,
      name: name!,
      visibility: visibility!,
      hardware: hardware!,
      versions: [],
    };
    this.models.set(key, model);
    return { status: 201, body: this.modelJson(model) };
  }

  /** GET /v1/models/{owner}/{name} of a created model or a trainer; undefined for others. */
  model(name: string): Answer | undefined {
    const created = this.models.get(name);
    if (created) return { status: 200, body: this.modelJson(created) };
    const trainer = trainerSpec(name);
    return trainer && { status: 200, body: trainerObject(name, trainer) };
  }

  /** Every model this part of the emulator knows, for search: the created ones and the trainers. */
  searchable(): Record<string, unknown>[] {
    return [
      ...Object.entries(TRAINERS).map(([name, spec]) => ({
        ...trainerObject(name, spec),
        description: 'Fine-tune FLUX.1-dev with a LoRA (emulated)',
      })),
      ...[...this.models.values()].filter((m) => m.visibility === 'public').map((m) => this.modelJson(m)),
    ];
  }

  /** The model (`owner/name`) and spec of a trained version, for running it; undefined for others. */
  trainedVersion(version: string): { model: string; spec: ModelSpec } | undefined {
    const model = this.trained.get(version);
    return model ? { model, spec: TRAINED_SPEC } : undefined;
  }

  /** POST /v1/models/{owner}/{name}/versions/{version}/trainings. */
  createTraining(trainer: string, version: string, body: unknown): Answer {
    const spec = trainerSpec(trainer);
    if (!spec || version !== versionOf(trainer))
      throw new Problem(404, 'Not found', `Version ${version} of ${trainer} was not found or cannot be trained.`);
    const { destination, input } = (body ?? {}) as { destination?: unknown; input?: unknown };
    if (typeof destination !== 'string' || !destination)
      throw invalid([{ field: 'destination', type: 'required', description: 'destination is required' }]);
    // Replicate: "This should be an existing model owned by the user ... the server will return an appropriate 4XX".
    if (!this.models.has(destination))
      throw invalid([
        { field: 'destination', type: 'invalid', description: `The destination model ${destination} does not exist` },
      ]);
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      throw invalid([{ field: 'input', type: 'required', description: 'input is required and must be an object' }]);
    const problems = checkModelInput(spec, input as Record<string, unknown>);
    if (problems.length) throw invalid(invalidFields(problems));
    // Replicate: a training takes `webhook` and `webhook_events_filter` as a prediction does.
    const webhook = webhookRequest(body);
    if (this.trainings.size >= MAX_TRAININGS)
      throw new Problem(429, 'Too many trainings', 'The emulator holds no more trainings.');
    const training = new EmulatedTraining(
      trainer,
      version,
      destination,
      input as Record<string, unknown>,
      this.timing.startingMs,
      this.timing.trainingMs,
      this.baseUrl(),
      (t) => {
        this.models.get(t.destination)?.versions.push({ id: t.newVersion, createdAt: new Date() });
        this.trained.set(t.newVersion, t.destination);
      },
    );
    this.trainings.set(training.id, training);
    if (webhook) this.webhooks.follow(training, webhook);
    return { status: 201, body: training.toJSON() };
  }

  /** GET /v1/trainings/{id}. */
  getTraining(id: string): Answer {
    return { status: 200, body: this.find(id).toJSON() };
  }

  /** POST /v1/trainings/{id}/cancel. */
  cancelTraining(id: string): Answer {
    const training = this.find(id);
    training.cancel();
    return { status: 200, body: training.toJSON() };
  }

  /**
   * GET /weights/{id}/trained_model.tar: a succeeded training's weights (no token needed, as
   * Replicate's delivery URLs); 404 for others.
   */
  weights(id: string): Answer {
    const bytes = this.trainings.get(id)?.weights();
    if (!bytes) throw new Problem(404, 'Not found', 'No such weights (no such training, or it has not succeeded).');
    return { status: 200, body: bytes, type: 'application/x-tar' };
  }

  /**
   * GET /v1/models/{owner}/{name}/versions (newest first) of a model made through the API;
   * undefined for other models.
   */
  versions(name: string): Answer | undefined {
    const model = this.models.get(name);
    if (!model) return undefined;
    const results = [...model.versions].reverse().map((v) => this.versionJson(v));
    return { status: 200, body: { next: null, previous: null, results } };
  }

  /** GET /v1/models/{owner}/{name}/versions/{id} of a model made through the API; undefined for other models. */
  version(name: string, id: string): Answer | undefined {
    const model = this.models.get(name);
    if (!model) return undefined;
    const found = model.versions.find((v) => v.id === id);
    if (!found) throw new Problem(404, 'Not found', `Version ${id} of ${name} was not found.`);
    return { status: 200, body: this.versionJson(found) };
  }

  /**
   * Why a prediction's `lora_weights` cannot be loaded, when it names what this emulator made: a
   * weights URL of a training that does not exist or has not succeeded, or a version (or a
   * model without any) of a model made here. Undefined otherwise (other LoRAs are not checked).
   */
  loraWeightsProblem(value: unknown): string | undefined {
    if (typeof value !== 'string') return undefined;
    const origin = originOf(this.baseUrl());
    if (value.startsWith(`${origin}/`)) {
      const id = parseWeightsPath(new URL(value).pathname);
      return id && this.trainings.get(id)?.weights() ? undefined : `${value} could not be downloaded`;
    }
    const [name, version] = value.split(':') as [string, string?];
    const model = this.models.get(name);
    if (!model) return undefined;
    if (version === undefined)
      return model.versions.length ? undefined : `model ${name} has no version: train one first`;
    return model.versions.some((v) => v.id === version) ? undefined : `version ${version} of ${name} does not exist`;
  }

  private versionJson({ id, createdAt }: { id: string; createdAt: Date }): Record<string, unknown> {
    const { latest_version: version } = modelObject('x/x', TRAINED_SPEC, id, false) as {
      latest_version: Record<string, unknown>;
    };
    return { ...version, created_at: createdAt.toISOString() };
  }

  private find(id: string): EmulatedTraining {
    const training = this.trainings.get(id);
    if (!training) throw new Problem(404, 'Not found', `Training ${id} was not found.`);
    return training;
  }

  private catalogHas(name: string): boolean {
    return Object.keys(MODELS).some((ref) => ref.split(':')[0] === name) || trainerSpec(name) !== undefined;
  }

  private modelJson(model: CreatedModel): Record<string, unknown> {
    const name = `${model.owner}/${model.name}`;
    const latest = model.versions.at(-1);
    const body = modelObject(name, TRAINED_SPEC, latest?.id ?? '', false);
    return {
      ...body,
      description: `${name} (a model made through the emulated API)`,
      visibility: model.visibility,
      latest_version: latest ? this.versionJson(latest) : null,
    };
  }
}

/** A trainer's model object: its version's schema holds `TrainingInput`, the input of `train()`, as Cog publishes it. */
function trainerObject(name: string, spec: ModelSpec): Record<string, unknown> {
  const body = modelObject(name, spec, versionOf(name), false);
  const version = body.latest_version as { openapi_schema: { components: { schemas: Record<string, unknown> } } };
  const { schemas } = version.openapi_schema.components;
  schemas.TrainingInput = { ...(schemas.Input as object), title: 'TrainingInput' };
  return body;
}

/** The trainer's version id the emulator answers for `owner/name` (GET /v1/models). */
export function trainerVersion(name: string): string {
  return versionOf(name);
}

import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { BlockError, stoppedBy } from '../core/errors.js';
import { formatIssues } from '../core/issues.js';
import type { ReplicateClient } from './client.js';
import { checkInput } from './input-check.js';
import type { ProgressEvent } from './types.js';

/**
 * The Flux LoRA trainer used by default: Ostris's AI Toolkit trainer on Replicate, whose
 * `train()` takes `input_images` (a zip), `trigger_word`, `steps` and more
 * (tests/fixtures/flux-trainer.json). Its latest version is looked up at each training.
 */
export const FLUX_LORA_TRAINER = 'ostris/flux-dev-lora-trainer';

/**
 * Hardware named when a missing destination model is created (POST /v1/models requires one).
 * Replicate runs a trained version on the hardware its training chose, whatever this says.
 */
export const DESTINATION_HARDWARE = 'gpu-t4';

/** A model reference `owner/name`, as Replicate spells them. */
export const MODEL_NAME = /^[a-z0-9][\w.-]*\/[a-z0-9][a-z0-9._-]*$/i;

/** Longest a training is waited for by default, in ms: 2 hours (a Flux LoRA takes 2-30 minutes). */
export const DEFAULT_TRAINING_TIMEOUT_MS = 7_200_000;

const TERMINAL = ['succeeded', 'failed', 'canceled', 'aborted'];

const trainingSchema = z
  .object({
    id: z.string().min(1),
    status: z.enum(['starting', 'processing', 'succeeded', 'failed', 'canceled', 'aborted']),
    logs: z.string().nullish(),
    error: z.unknown().optional(),
    output: z.object({ version: z.string().nullish(), weights: z.string().nullish() }).passthrough().nullish(),
  })
  .passthrough();

/** A training as Replicate returns it (`schemas_training_response`); only the fields read here are typed. */
export type Training = z.infer<typeof trainingSchema>;

/** What to train. */
export interface TrainingRequest {
  /** The destination model `owner/name`, which receives the new version. Created private when missing. */
  readonly destination: string;
  /** The trainer's input (`input_images`, `trigger_word`, `steps`, ...). */
  readonly input: Readonly<Record<string, unknown>>;
  /** The trainer `owner/name`. Default {@link FLUX_LORA_TRAINER}. */
  readonly trainer?: string;
}

/** How to wait for a training. */
export interface TrainOptions {
  /** Aborting it cancels the training (POST /v1/trainings/{id}/cancel) before the call rejects. */
  readonly signal?: AbortSignal;
  /** Told of each change: status, `percent` and `message` (`step 300 of 1000`) from the logs; also of the destination's creation. */
  readonly onProgress?: (event: ProgressEvent) => void;
  /** First polling interval, in ms; grows 1.5x per poll up to `maxPollIntervalMs`. Default 5000: trainings take minutes. */
  readonly pollIntervalMs?: number;
  /** Longest polling interval, in ms. Default 30000. */
  readonly maxPollIntervalMs?: number;
  /** Bound on the wait after the create, in ms; the training is canceled past it. Default 7200000 (2 h). */
  readonly timeoutMs?: number;
}

/** A finished training's result. */
export interface TrainedVersion {
  /** The new version, `owner/name:version`: run it with the any-model block, or as a LoRA. */
  readonly version: string;
  /** URL of the trained weights (a tar of the LoRA safetensors), or `''` when the answer gave none. */
  readonly weights: string;
  /** The training's id. */
  readonly trainingId: string;
}

/**
 * Trains a new version of `destination` and waits for it. Looks up the trainer's latest version
 * and checks `input` against its published `TrainingInput` schema. Creates the destination (private,
 * {@link DESTINATION_HARDWARE}) when GET /v1/models/{owner}/{name} answers 404, saying so through
 * `onProgress` first; creates the training (POST
 * /v1/models/{trainer}/versions/{version}/trainings with `destination` and `input`, never sent
 * twice); then polls GET /v1/trainings/{id} slowly until it ends. On abort or timeout the
 * training is canceled first.
 * @throws {BlockError} `invalid_input` for a malformed `destination` or `trainer` (before any
 *   request); `model_failed` with the training's error; `canceled`; `host_aborted`; `timed_out`;
 *   `bad_response` for answers that are not trainings; and the client's kinds (`rejected_input`
 *   when Replicate refuses the input or destination).
 */
export async function trainVersion(
  client: ReplicateClient,
  { destination, input, trainer = FLUX_LORA_TRAINER }: TrainingRequest,
  options: TrainOptions = {},
): Promise<TrainedVersion> {
  if (!MODEL_NAME.test(destination)) throw new BlockError('invalid_input', 'destination: must be owner/name');
  if (!MODEL_NAME.test(trainer)) throw new BlockError('invalid_input', 'trainer: must be owner/name');
  const { signal, onProgress } = options;
  const trainerModel = await client.getModel(trainer, { signal });
  const version = trainerModel.latest_version?.id;
  if (!version) throw new BlockError('not_found', `Trainer ${trainer} has no published version to train with`);
  // Before the destination is made or anything billed: the input against the trainer's published schema.
  const schema = trainerModel.latest_version?.openapi_schema;
  const problems = schema && checkInput(version, schema, input, 'TrainingInput');
  if (problems)
    throw new BlockError(
      'rejected_input',
      `Trainer ${trainer} (version ${version.slice(0, 12)}) refuses this input: ${problems}`,
    );
  await ensureDestination(client, destination, signal, onProgress);
  const path = `models/${trainer.split('/').map(encodeURIComponent).join('/')}/versions/${encodeURIComponent(version)}/trainings`;
  const created = readTraining(
    await client.request(path, { method: 'POST', kind: 'create', json: { destination, input }, signal }),
    `POST /${path}`,
    client.baseUrl,
  );
  const training = await waitForTraining(client, created, options);
  const out = training.output;
  if (!out?.version)
    throw new BlockError('bad_response', `Training ${training.id} succeeded without a new version in its output`);
  // Replicate's output names `owner/name:version`; a bare version id is qualified with the destination.
  const qualified = out.version.includes(':') ? out.version : `${destination}:${out.version}`;
  return { version: qualified, weights: out.weights ?? '', trainingId: training.id };
}

/** GET the destination; on 404, POST /v1/models to create it as a private model. */
async function ensureDestination(
  client: ReplicateClient,
  destination: string,
  signal: AbortSignal | undefined,
  onProgress: TrainOptions['onProgress'],
): Promise<void> {
  try {
    await client.getModel(destination, { signal });
    return;
  } catch (error) {
    if (!(error instanceof BlockError && error.kind === 'not_found')) throw error;
  }
  onProgress?.({
    predictionId: destination,
    status: 'starting',
    message: `destination ${destination} does not exist: creating it as a private model`,
  });
  const [owner, name] = destination.split('/') as [string, string];
  await client.request('models', {
    method: 'POST',
    kind: 'create',
    json: { owner, name, visibility: 'private', hardware: DESTINATION_HARDWARE },
    signal,
  });
}

/** Polls the training until it ends; cancels it on abort or timeout. */
async function waitForTraining(
  client: ReplicateClient,
  first: Training,
  {
    signal,
    onProgress,
    pollIntervalMs = 5_000,
    maxPollIntervalMs = 30_000,
    timeoutMs = DEFAULT_TRAINING_TIMEOUT_MS,
  }: TrainOptions,
): Promise<Training> {
  const deadline = Date.now() + timeoutMs;
  let training = first;
  let interval = pollIntervalMs;
  let last = '';
  const path = `trainings/${encodeURIComponent(first.id)}`;
  try {
    for (;;) {
      const event = progressOf(training);
      const said = JSON.stringify(event);
      if (said !== last) onProgress?.(event);
      last = said;
      if (TERMINAL.includes(training.status)) return finished(training);
      const left = deadline - Date.now();
      if (left <= 0) throw new BlockError('timed_out', `Training ${training.id} did not end within ${timeoutMs} ms`);
      await sleep(Math.min(interval, left), undefined, { signal });
      interval = Math.min(maxPollIntervalMs, Math.ceil(interval * 1.5));
      training = readTraining(await client.request(path, { signal }), `GET /${path}`, client.baseUrl);
    }
  } catch (error) {
    if (TERMINAL.includes(training.status)) throw error;
    // Stop it on Replicate too, with a signal of its own: the caller's is aborted.
    const canceled = await client
      .request(`${path}/cancel`, { method: 'POST' })
      .then(() => ' It was canceled.')
      .catch(() => ` Canceling it failed: cancel it at https://replicate.com/p/${training.id}.`);
    if (signal?.aborted)
      throw new BlockError('host_aborted', `Training ${training.id} was ${stoppedBy(signal)}.${canceled}`);
    const failure = error instanceof BlockError ? error : new BlockError('internal', String(error));
    throw new BlockError(failure.kind, `${failure.detail.replace(/\.$/, '')}.${canceled}`);
  }
}

/** The result of an ended training. @throws {BlockError} unless it succeeded. */
function finished(training: Training): Training {
  if (training.status === 'succeeded') return training;
  if (training.status === 'failed')
    throw new BlockError(
      'model_failed',
      `Training ${training.id} failed: ${String(training.error ?? 'no reason given')}`,
    );
  throw new BlockError('canceled', `Training ${training.id} was ${training.status}`);
}

/** `step 300 of 1000` from the last `n/N` in the logs (the trainer's progress bar), with its percent. */
export function progressOf(training: Training): ProgressEvent {
  const steps = [...(training.logs ?? '').matchAll(/\b(\d+)\/(\d+)\b/g)].at(-1);
  const [step, total] = steps ? [Number(steps[1]), Number(steps[2])] : [];
  const known = step !== undefined && total && step <= total;
  return {
    predictionId: training.id,
    status: training.status,
    ...(known && { percent: Math.round((step / total) * 100), message: `step ${step} of ${total}` }),
  };
}

function readTraining(body: unknown, request: string, baseUrl: string): Training {
  const parsed = trainingSchema.safeParse(body);
  if (!parsed.success)
    throw new BlockError(
      'bad_response',
      `The Replicate API at ${baseUrl} answered ${request} with JSON that is not a training (${formatIssues(parsed.error.issues, 'body')})`,
    );
  return parsed.data;
}

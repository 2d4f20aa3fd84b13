import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { BlockError, stoppedBy } from '../core/errors.js';
import { formatIssues } from '../core/issues.js';
import type { ReplicateClient } from './client.js';
import { checkInput } from './input-check.js';
import type { ProgressEvent } from './types.js';
import type { WebhookReceiver } from './webhooks.js';

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

/** With webhooks, how often a training is still polled by default, in ms: a lost delivery costs at most this. */
export const TRAINING_SAFETY_POLL_MS = 60_000;

/** Deliveries a training asks for: `start` and `logs` for progress, `completed` for its end. */
const WEBHOOK_EVENTS = ['start', 'logs', 'completed'] as const;

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
  /**
   * With the client's webhook: the interval of the safety poll (GET /v1/trainings/{id}) that
   * rescues a lost delivery, in ms. Default 60000. Without a webhook it is unused.
   */
  readonly safetyPollMs?: number;
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
 * twice); then waits for it to end. When the client has a webhook (`client.webhook`) the training
 * is created with `webhook` and `webhook_events_filter` (`start`, `logs`, `completed`), and its
 * verified deliveries bring progress and the end, which one GET /v1/trainings/{id} confirms;
 * a safety poll every `safetyPollMs` and one at the deadline rescue a lost delivery. Without
 * one it polls GET /v1/trainings/{id} slowly. On abort or timeout the training is canceled first.
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
  const { webhook } = client;
  // The secret first: a delivery may arrive before the create's answer, and is kept until then.
  if (webhook) await webhook.receiver.useSecret(webhook.loadSecret);
  const path = `models/${trainer.split('/').map(encodeURIComponent).join('/')}/versions/${encodeURIComponent(version)}/trainings`;
  const json = {
    destination,
    input,
    ...(webhook && { webhook: webhook.url, webhook_events_filter: WEBHOOK_EVENTS }),
  };
  const created = readTraining(
    await client.request(path, { method: 'POST', kind: 'create', json, signal }),
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

/** The training as it stands while it is waited for, and how to say each change of it. */
interface Watch {
  training: Training;
  /** Whether `training` came from a GET (not from a delivery). */
  fromGet: boolean;
  readonly report: (training: Training) => void;
  readonly get: () => Promise<Training>;
  readonly deadline: number;
}

/** Waits for the training to end, by webhook when the client has one, else by polling; cancels it on abort or timeout. */
async function waitForTraining(client: ReplicateClient, first: Training, options: TrainOptions): Promise<Training> {
  const { signal, onProgress, timeoutMs = DEFAULT_TRAINING_TIMEOUT_MS } = options;
  const path = `trainings/${encodeURIComponent(first.id)}`;
  let last = '';
  const watch: Watch = {
    training: first,
    fromGet: true,
    deadline: Date.now() + timeoutMs,
    report(training) {
      const event = progressOf(training);
      const said = JSON.stringify(event);
      if (said !== last) onProgress?.(event);
      last = said;
    },
    get: async () => readTraining(await client.request(path, { signal }), `GET /${path}`, client.baseUrl),
  };
  watch.report(first);
  try {
    const ended = client.webhook
      ? await byWebhook(watch, client.webhook.receiver, options)
      : await byPolling(watch, options);
    return finished(ended);
  } catch (error) {
    const { training } = watch;
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

/** Polls every `pollIntervalMs`, 1.5x less often per poll up to `maxPollIntervalMs`, until the training ends. */
async function byPolling(
  watch: Watch,
  { signal, pollIntervalMs = 5_000, maxPollIntervalMs = 30_000, timeoutMs = DEFAULT_TRAINING_TIMEOUT_MS }: TrainOptions,
): Promise<Training> {
  let interval = pollIntervalMs;
  while (!TERMINAL.includes(watch.training.status)) {
    const left = watch.deadline - Date.now();
    if (left <= 0)
      throw new BlockError('timed_out', `Training ${watch.training.id} did not end within ${timeoutMs} ms`);
    await sleep(Math.min(interval, left), undefined, { signal });
    interval = Math.min(maxPollIntervalMs, Math.ceil(interval * 1.5));
    watch.training = await watch.get();
    watch.report(watch.training);
  }
  return watch.training;
}

/**
 * Waits for the training's verified deliveries (progress from each one's logs) until one says it
 * ended, then confirms that with a GET. Polls only every `safetyPollMs` and once at the deadline,
 * so a lost or forged delivery delays the end but never hangs the wait.
 */
async function byWebhook(
  watch: Watch,
  receiver: WebhookReceiver,
  { signal, safetyPollMs = TRAINING_SAFETY_POLL_MS, timeoutMs = DEFAULT_TRAINING_TIMEOUT_MS }: TrainOptions,
): Promise<Training> {
  let arrived = () => {};
  const unsubscribe = receiver.subscribe(watch.training.id, (body) => {
    const delivered = trainingSchema.safeParse(body);
    // Deliveries may come out of order: nothing changes an ended training.
    if (!delivered.success || TERMINAL.includes(watch.training.status)) return;
    watch.training = delivered.data;
    watch.fromGet = false;
    watch.report(delivered.data);
    arrived();
  });
  const poll = async () => {
    const polled = await watch.get();
    // A delivery that came while the GET was on its way is as recent; an ended one stands.
    if (TERMINAL.includes(watch.training.status) && !watch.fromGet) return;
    watch.training = polled;
    watch.fromGet = true;
    watch.report(polled);
  };
  try {
    let lastPoll = Date.now();
    for (;;) {
      if (TERMINAL.includes(watch.training.status)) {
        if (watch.fromGet) return watch.training;
        // The end a delivery told of, confirmed by Replicate itself before anything is yielded.
        watch.training = await watch.get();
        watch.fromGet = true;
        watch.report(watch.training);
        continue;
      }
      const left = watch.deadline - Date.now();
      if (left <= 0)
        throw new BlockError('timed_out', `Training ${watch.training.id} did not end within ${timeoutMs} ms`);
      const due = await delivery(Math.min(lastPoll + safetyPollMs - Date.now(), left), signal, (wake) => {
        arrived = wake;
      });
      if (!due || TERMINAL.includes(watch.training.status)) continue;
      lastPoll = Date.now();
      await poll();
    }
  } finally {
    unsubscribe();
  }
}

/**
 * Resolves `true` after `ms`, or `false` as soon as the function given to `onArrival` is called
 * (a delivery came); rejects with the signal's reason when it aborts.
 */
function delivery(
  ms: number,
  signal: AbortSignal | undefined,
  onArrival: (wake: () => void) => void,
): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const timer = setTimeout(() => finish(true), Math.max(0, ms));
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    function finish(due: boolean) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(due);
    }
    onArrival(() => finish(false));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
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

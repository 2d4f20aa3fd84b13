import { DelayedError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Block, BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { runBlock } from 'replicate-flux-blocks/shared/framework/run-block.js';
import { createReplicateClient, type ReplicateClient } from 'replicate-flux-blocks/shared/replicate/client.js';
import type { Pacer } from 'replicate-flux-blocks/shared/replicate/pacer.js';
import type { Prediction, PredictionRequest } from 'replicate-flux-blocks/shared/replicate/types.js';
import { cancelKey, type BlockJobData, type BlockJobResult, type JobProgress, type WorkerEmulator } from './jobs.js';
import { CreateDeferred, type SharedBudget } from './rate-limit.js';

/** Turns the `credentials` field's reference (`{provider, id, type}`) into the secret. */
export type ResolveCredentials = (
  reference: unknown,
) => Promise<BlockContext['credentials']> | BlockContext['credentials'];

/** What every job of one worker runs with (see `startWorker`'s options). */
export interface JobEnvironment {
  /** For the cancel flags; BullMQ's own connections are separate. */
  readonly redis: Redis;
  readonly registry: BlockRegistry;
  readonly resolveCredentials: ResolveCredentials;
  /** Runner and save options of every run. */
  readonly base: BlockContext;
  readonly queue: string;
  readonly prefix: string;
  /** The token budgets shared by all workers. */
  readonly budget: SharedBudget;
  /** The embedded emulator the outputs come from, if any. */
  readonly emulator: WorkerEmulator | undefined;
  /** The detach controllers of this process's active jobs, to stop them when their lock is lost. */
  readonly detachers: Map<string, AbortController>;
}

/** Why a run stopped before its end, set by hooks that cannot throw past `runBlock`. */
interface Interruption {
  deferUntil?: number;
  failure?: Error;
}

/** How one job's run is stopped, and why it stopped early. */
interface Stops {
  /** Aborted by the submitter's cancel: the prediction is canceled. */
  readonly cancel: AbortController;
  /** Aborted on SIGTERM or a lost lock: the run stops waiting; the prediction runs on. */
  readonly detach: AbortController;
  readonly stopped: Interruption;
}

/** The `CallOptions` hooks that keep a job's record of its predictions. */
interface PredictionRecords {
  beforeCreate(request: PredictionRequest): Promise<string | undefined>;
  onCreated(prediction: Pick<Prediction, 'id'>): Promise<void>;
  /** Clears a create intent the run did not act on (a deferred create). */
  forgetIntent(): Promise<void>;
}

/**
 * Runs one block job as `startWorker` describes, with BullMQ's lock `token` and `signal`
 * (aborted with reason `user` for a cancel, `shutdown` for SIGTERM).
 * @returns every output, in order, and the embedded emulator they came from.
 * @throws UnrecoverableError to fail the job at once; WaitingError or DelayedError once the
 *   job is moved back to waiting or delayed; any other error for BullMQ to retry with backoff.
 */
export async function processJob(
  env: JobEnvironment,
  job: Job<BlockJobData, BlockJobResult>,
  token: string | undefined,
  signal?: AbortSignal,
): Promise<BlockJobResult> {
  const { block, credentials } = await admitJob(env, job);
  const stops = watchStops(env.detachers, job.id!, signal);
  const apiKey = credentials?.apiKey;
  const client = apiKey ? createReplicateClient({ ...env.base.runner, token: apiKey }) : undefined;
  const records = predictionRecords(job, client, stops);
  const pacer = apiKey ? notingPacer(env.budget.pacer(apiKey), stops.stopped) : undefined;
  const context = jobContext(env.base, job, credentials, stops, records, pacer);
  let outputs: Array<readonly [string, unknown]>;
  try {
    outputs = await runOutputs(job, block, context, stops, env.emulator);
  } finally {
    env.detachers.delete(job.id!);
  }
  await endEarly(job, token, signal, stops, records);
  return { outputs, ...(env.emulator && { emulator: env.emulator }) };
}

/**
 * The job's block and secret credentials.
 * @throws UnrecoverableError when the job was canceled while it waited, names a block this
 *   worker does not have, or holds a reference that does not resolve.
 */
async function admitJob(
  env: JobEnvironment,
  job: Job<BlockJobData, BlockJobResult>,
): Promise<{ block: Block; credentials: BlockContext['credentials'] }> {
  if (await env.redis.exists(cancelKey(env.prefix, env.queue, job.id!)))
    throw new UnrecoverableError('The run was canceled');
  const block = env.registry.get(job.data.blockId);
  if (!block) throw new UnrecoverableError(`No block with id "${job.data.blockId}" is registered in this worker`);
  const reference = (job.data.input as { credentials?: unknown } | null)?.credentials;
  try {
    return { block, credentials: reference === undefined ? undefined : await env.resolveCredentials(reference) };
  } catch (error) {
    throw new UnrecoverableError(`credentials: the reference could not be resolved (${(error as Error).message})`);
  }
}

/** The job's stops, wired to BullMQ's signal (a `user` abort cancels, any other detaches) and to `detachers`. */
function watchStops(detachers: Map<string, AbortController>, jobId: string, signal: AbortSignal | undefined): Stops {
  const stops: Stops = { cancel: new AbortController(), detach: new AbortController(), stopped: {} };
  detachers.set(jobId, stops.detach);
  signal?.addEventListener('abort', () => (signal.reason === 'user' ? stops.cancel.abort() : stops.detach.abort()), {
    once: true,
  });
  return stops;
}

/**
 * Keeps the job's `predictions` and `creating` (its data in Redis) as the run creates
 * predictions, so a rerun waits for them instead of creating them again. A failure is also
 * noted in `stops.stopped`, as `runBlock` turns it into an `error` output.
 */
function predictionRecords(
  job: Job<BlockJobData, BlockJobResult>,
  client: ReplicateClient | undefined,
  { cancel, stopped }: Stops,
): PredictionRecords {
  // The job's data as last written (`job.updateData` replaces it whole) and the creates so far.
  let data = job.data;
  let creates = 0;
  const update = async (patch: Partial<BlockJobData>) => {
    data = { ...data, ...patch };
    await job.updateData(data);
  };
  const record = (id: string) => update({ predictions: [...data.predictions, id], creating: undefined });
  return {
    beforeCreate: async (request) => {
      try {
        const index = creates++;
        const known = data.predictions[index];
        if (known !== undefined) return known;
        if (data.creating?.index === index && client) {
          // A crash between the create and recording its id: find what it created, if anything.
          const found = await client.findPredictions(request, new Date(data.creating.at - 60_000).toISOString(), {
            signal: cancel.signal,
          });
          if (found.length > 1) throw (stopped.failure = unrecordedCreateError(index, found));
          if (found.length === 1) {
            await record(found[0]!.id);
            return found[0]!.id;
          }
        }
        await update({ creating: { index, at: Date.now() } });
        return undefined;
      } catch (error) {
        stopped.failure ??= error as Error;
        throw error;
      }
    },
    onCreated: async (prediction) => {
      await record(prediction.id).catch((error: Error) => {
        // The prediction runs: keep polling it; the retry finds it by input.
        stopped.failure ??= error;
      });
    },
    forgetIntent: () => update({ creating: undefined }),
  };
}

/** Fails the job rather than risk paying twice for an unrecorded create that several predictions match. */
function unrecordedCreateError(index: number, found: ReadonlyArray<Pick<Prediction, 'id'>>): UnrecoverableError {
  return new UnrecoverableError(
    `A crash left prediction create ${index + 1} unrecorded, and ${found.length} predictions with its input exist (${found.map((p) => p.id).join(', ')}): not creating another`,
  );
}

/** The shared budget's pacer, noting in `stopped` why a turn was refused: a deferred create or a failure. */
function notingPacer(pacer: Pacer, stopped: Interruption): Pacer {
  return {
    turn: (lane, turnSignal) =>
      pacer.turn(lane, turnSignal).catch((error: unknown) => {
        if (error instanceof CreateDeferred) stopped.deferUntil = error.at;
        else stopped.failure ??= error as Error;
        throw error;
      }),
    throttled: pacer.throttled,
  };
}

/** The block's context: the worker's, with the job's credentials, stops, hooks and progress reports. */
function jobContext(
  base: BlockContext,
  job: Job<BlockJobData, BlockJobResult>,
  credentials: BlockContext['credentials'],
  stops: Stops,
  { beforeCreate, onCreated }: PredictionRecords,
  pacer: Pacer | undefined,
): BlockContext {
  return {
    ...base,
    credentials,
    signal: stops.cancel.signal,
    runner: {
      ...base.runner,
      pacer,
      beforeCreate,
      onCreated,
      detach: stops.detach.signal,
      onProgress: (event) =>
        void job.updateProgress({ type: 'prediction', ...event } satisfies JobProgress).catch(() => undefined),
    },
  };
}

/** Runs the block, reporting each output as progress, until it ends or the run is stopped. */
async function runOutputs(
  job: Job<BlockJobData, BlockJobResult>,
  block: Block,
  context: BlockContext,
  { detach, stopped }: Stops,
  emulator: WorkerEmulator | undefined,
): Promise<Array<readonly [string, unknown]>> {
  const outputs: Array<readonly [string, unknown]> = [];
  for await (const [output, value] of runBlock(block, job.data.input as never, context)) {
    if (detach.signal.aborted || stopped.deferUntil !== undefined || stopped.failure) break;
    await job.updateProgress({
      type: 'output',
      index: outputs.length,
      output,
      value,
      ...(emulator && { emulator }),
    } satisfies JobProgress);
    outputs.push([output, value]);
  }
  return outputs;
}

/**
 * Ends a run that stopped early: a cancel fails the job; a detach puts it back to waiting
 * (SIGTERM) or fails it for a retry (a lost lock); a noted failure fails it; a deferred create
 * delays it. Returns for a run that reached its end.
 */
async function endEarly(
  job: Job<BlockJobData, BlockJobResult>,
  token: string | undefined,
  signal: AbortSignal | undefined,
  { cancel, detach, stopped }: Stops,
  records: PredictionRecords,
): Promise<void> {
  if (cancel.signal.aborted) throw new UnrecoverableError('The run was canceled; its prediction was canceled too');
  if (detach.signal.aborted) {
    if (signal?.reason !== 'shutdown')
      throw new Error("The worker lost the job's lock; the prediction runs on for the next worker");
    await job.moveToWait(token);
    throw new WaitingError();
  }
  if (stopped.failure) throw stopped.failure;
  if (stopped.deferUntil !== undefined) {
    await records.forgetIntent();
    await job.moveToDelayed(stopped.deferUntil, token);
    throw new DelayedError();
  }
}

import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { runBlock } from 'replicate-flux-blocks/shared/framework/run-block.js';
import { createReplicateClient } from 'replicate-flux-blocks/shared/replicate/client.js';
import type { PredictionRequest } from 'replicate-flux-blocks/shared/replicate/types.js';
import { checkRedis } from './connection.js';
import {
  cancelChannel,
  cancelKey,
  DEFAULT_QUEUE,
  PREFIX,
  type BlockJobData,
  type BlockJobResult,
  type JobProgress,
  type WorkerEmulator,
} from './jobs.js';
import { CreateDeferred, REPLICATE_BUDGET, SharedBudget, type Budget } from './rate-limit.js';

/**
 * Stalled-job settings: a killed worker's lock expires after `lockDuration` and the next check
 * (every `stalledInterval`) hands its jobs to another worker: at most about 15 s, 6-9 s measured
 * (docs/scaling.md). Locks are renewed every 5 s. BullMQ's default `maxStalledCount` of 1 fails
 * a job on its second stall; 3 lets it survive three crashes.
 */
export const STALLED_SETTINGS = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 3 } as const;

/** Turns the `credentials` field's reference (`{provider, id, type}`) into the secret. */
export type ResolveCredentials = (
  reference: unknown,
) => Promise<BlockContext['credentials']> | BlockContext['credentials'];

/** How to run a worker. */
export interface WorkerOptions {
  /** Redis, as ioredis options (see `redisConnection`). */
  readonly connection: RedisOptions;
  /** The blocks jobs may name. */
  readonly registry: BlockRegistry;
  /**
   * Resolves a job's credentials reference; a rejection fails the job at once. Default: the
   * `credentials` of `context` (the CLI's: the worker's REPLICATE_API_TOKEN) for any reference.
   */
  readonly resolveCredentials?: ResolveCredentials;
  /** Runner (base URL, timeout) and save options of every run; its credentials are the default key. */
  readonly context?: BlockContext;
  /** Jobs run at once in this process; they mostly wait on polls. Default 20. */
  readonly concurrency?: number;
  /** Queue name. Default `block-runs`. */
  readonly queue?: string;
  /** Key prefix. Default `flux`. */
  readonly prefix?: string;
  /** Per-token budget shared by all workers. Default Replicate's limits. */
  readonly budget?: Budget;
  /**
   * The origin of the embedded emulator this worker runs on, if any (`http://127.0.0.1:<port>`).
   * Reported with each job's outputs (with this machine's host name), so a submitter on the
   * same machine may save the result images, as the embedded emulator's are in-process.
   */
  readonly emulatorOrigin?: string;
}

/** A running worker. */
export interface RunningWorker {
  readonly worker: Worker<BlockJobData, BlockJobResult>;
  /**
   * Stops taking jobs and puts every active one back to waiting, at the front, without
   * canceling its prediction: the next worker resumes it. For SIGTERM.
   */
  close(): Promise<void>;
}

/** Why a run stopped before its end, set by hooks that cannot throw past `runBlock`. */
interface Interruption {
  deferUntil?: number;
  failure?: Error;
}

/**
 * Starts a BullMQ worker for block jobs (from `createJobQueue`). Each job:
 * - resolves its credentials reference, and fails at once (UnrecoverableError) for an unknown
 *   block or an unresolvable reference, or when it was canceled while waiting;
 * - runs the block with `runBlock`, reporting each output and prediction status as progress,
 *   and returns every output;
 * - records each prediction it creates: the intent (`creating`) before the create, the id
 *   right after. Run again (a crash, a stall, SIGTERM), it waits for the recorded predictions
 *   instead of creating them; for an intent without an id it looks the prediction up by input
 *   (GET /v1/predictions) and resumes it, creates it if none exists, and fails when several
 *   match rather than risk paying twice;
 * - paces creates and other requests against the token's budget shared in Redis; a create
 *   without a turn delays the job (freeing its slot) instead of waiting;
 * - on a cancel (from the submitter) cancels its prediction and fails; on SIGTERM or a lost lock
 *   stops waiting without canceling it.
 * Failures outside the block (Redis, a lost lock) are thrown, so BullMQ retries with backoff.
 */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const {
    connection,
    registry,
    context: base = {},
    concurrency = 20,
    queue = DEFAULT_QUEUE,
    prefix = PREFIX,
  } = options;
  const resolveCredentials = options.resolveCredentials ?? (() => base.credentials);
  const emulator: WorkerEmulator | undefined =
    options.emulatorOrigin === undefined ? undefined : { origin: options.emulatorOrigin, host: hostname() };
  // Once running, connections retry through Redis restarts; an unreachable Redis at start is an error.
  await checkRedis(connection);
  const redis = new Redis({ ...connection, maxRetriesPerRequest: null });
  const subscriber = new Redis({ ...connection, maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  const budget = new SharedBudget(redis, options.budget ?? REPLICATE_BUDGET, prefix);
  /** The detach controllers of this process's active jobs, to stop them when their lock is lost. */
  const detachers = new Map<string, AbortController>();

  async function processJob(
    job: Job<BlockJobData, BlockJobResult>,
    token: string | undefined,
    signal?: AbortSignal,
  ): Promise<BlockJobResult> {
    if (await redis.exists(cancelKey(prefix, queue, job.id!))) throw new UnrecoverableError('The run was canceled');
    const block = registry.get(job.data.blockId);
    if (!block) throw new UnrecoverableError(`No block with id "${job.data.blockId}" is registered in this worker`);
    const reference = (job.data.input as { credentials?: unknown } | null)?.credentials;
    let credentials: BlockContext['credentials'];
    try {
      credentials = reference === undefined ? undefined : await resolveCredentials(reference);
    } catch (error) {
      throw new UnrecoverableError(`credentials: the reference could not be resolved (${(error as Error).message})`);
    }
    const cancel = new AbortController();
    const detach = new AbortController();
    detachers.set(job.id!, detach);
    signal?.addEventListener('abort', () => (signal.reason === 'user' ? cancel.abort() : detach.abort()), {
      once: true,
    });

    const stopped: Interruption = {};
    let data = job.data;
    const update = async (patch: Partial<BlockJobData>) => {
      data = { ...data, ...patch };
      await job.updateData(data);
    };
    const runner = { ...base.runner };
    const apiKey = credentials?.apiKey;
    const client = apiKey ? createReplicateClient({ ...runner, token: apiKey }) : undefined;
    let creates = 0;
    const beforeCreate = async (request: PredictionRequest): Promise<string | undefined> => {
      try {
        const index = creates++;
        const known = data.predictions[index];
        if (known !== undefined) return known;
        if (data.creating?.index === index && client) {
          // A crash between the create and recording its id: find what it created, if anything.
          const found = await client.findPredictions(request, new Date(data.creating.at - 60_000).toISOString(), {
            signal: cancel.signal,
          });
          if (found.length > 1) {
            throw (stopped.failure = new UnrecoverableError(
              `A crash left prediction create ${index + 1} unrecorded, and ${found.length} predictions with its input exist (${found.map((p) => p.id).join(', ')}): not creating another`,
            ));
          }
          if (found.length === 1) {
            await update({ predictions: [...data.predictions, found[0]!.id], creating: undefined });
            return found[0]!.id;
          }
        }
        await update({ creating: { index, at: Date.now() } });
        return undefined;
      } catch (error) {
        stopped.failure ??= error as Error;
        throw error;
      }
    };
    const onCreated = async (prediction: { id: string }) => {
      await update({ predictions: [...data.predictions, prediction.id], creating: undefined }).catch((error: Error) => {
        // The prediction runs: keep polling it; the retry finds it by input.
        stopped.failure ??= error;
      });
    };
    const pacer = apiKey ? budget.pacer(apiKey) : undefined;
    const context: BlockContext = {
      ...base,
      credentials,
      signal: cancel.signal,
      runner: {
        ...runner,
        pacer: pacer && {
          turn: (lane, turnSignal) =>
            pacer.turn(lane, turnSignal).catch((error: unknown) => {
              if (error instanceof CreateDeferred) stopped.deferUntil = error.at;
              else stopped.failure ??= error as Error;
              throw error;
            }),
          throttled: pacer.throttled,
        },
        beforeCreate,
        onCreated,
        detach: detach.signal,
        onProgress: (event) =>
          void job.updateProgress({ type: 'prediction', ...event } satisfies JobProgress).catch(() => undefined),
      },
    };

    const outputs: Array<readonly [string, unknown]> = [];
    try {
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
    } finally {
      detachers.delete(job.id!);
    }
    if (cancel.signal.aborted) throw new UnrecoverableError('The run was canceled; its prediction was canceled too');
    if (detach.signal.aborted) {
      if (signal?.reason !== 'shutdown')
        throw new Error("The worker lost the job's lock; the prediction runs on for the next worker");
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (stopped.failure) throw stopped.failure;
    if (stopped.deferUntil !== undefined) {
      await update({ creating: undefined });
      await job.moveToDelayed(stopped.deferUntil, token);
      throw new DelayedError();
    }
    return { outputs, ...(emulator && { emulator }) };
  }

  const worker = new Worker<BlockJobData, BlockJobResult>(
    queue,
    // Three parameters: BullMQ hands a processor its AbortSignal only when it declares one.
    (job, token, signal) => processJob(job, token, signal),
    // The name lands in each job's `processedBy`: which host and process ran it.
    {
      connection: connection as ConnectionOptions,
      prefix,
      concurrency,
      name: `${hostname()}:${process.pid}`,
      ...STALLED_SETTINGS,
    },
  );
  worker.on('error', () => undefined);
  worker.on('lockRenewalFailed', (ids) => ids.forEach((id) => detachers.get(id)?.abort()));
  try {
    await subscriber.subscribe(cancelChannel(prefix, queue));
    subscriber.on('message', (_channel, jobId: string) => void worker.cancelJob(jobId, 'user'));
    await worker.waitUntilReady();
  } catch (error) {
    // Its connections would retry forever: a worker that failed to start leaves nothing open.
    await worker.close(true).catch(() => undefined);
    subscriber.disconnect();
    redis.disconnect();
    throw error;
  }
  return {
    worker,
    close: async () => {
      worker.cancelAllJobs('shutdown');
      await worker.close();
      subscriber.disconnect();
      redis.disconnect();
    },
  };
}

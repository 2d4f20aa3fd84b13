import { hostname } from 'node:os';
import { Worker, type ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { checkRedis } from './connection.js';
import { cancelChannel, DEFAULT_QUEUE, PREFIX, type BlockJobData, type BlockJobResult } from './jobs.js';
import { processJob, type JobEnvironment, type ResolveCredentials } from './process-job.js';
import { REPLICATE_BUDGET, SharedBudget, type Budget } from './rate-limit.js';

/**
 * Stalled-job settings: a killed worker's lock expires after `lockDuration` and the next check
 * (every `stalledInterval`) hands its jobs to another worker: at most about 15 s, 6-9 s measured
 * (docs/scaling.md). Locks are renewed every 5 s. BullMQ's default `maxStalledCount` of 1 fails
 * a job on its second stall; 3 lets it survive three crashes.
 */
export const STALLED_SETTINGS = { lockDuration: 10_000, stalledInterval: 5_000, maxStalledCount: 3 } as const;

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
  const { connection, concurrency = 20 } = options;
  // Once running, connections retry through Redis restarts; an unreachable Redis at start is an error.
  await checkRedis(connection);
  const redis = retryingRedis(connection);
  const subscriber = retryingRedis(connection);
  const env = jobEnvironment(options, redis);
  const { queue, prefix } = env;
  const worker = new Worker<BlockJobData, BlockJobResult>(
    queue,
    // Three parameters: BullMQ hands a processor its AbortSignal only when it declares one.
    (job, token, signal) => processJob(env, job, token, signal),
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
  worker.on('lockRenewalFailed', (ids) => ids.forEach((id) => env.detachers.get(id)?.abort()));
  const disconnect = () => {
    subscriber.disconnect();
    redis.disconnect();
  };
  try {
    await subscriber.subscribe(cancelChannel(prefix, queue));
    subscriber.on('message', (_channel, jobId: string) => void worker.cancelJob(jobId, 'user'));
    await worker.waitUntilReady();
  } catch (error) {
    // Its connections would retry forever: a worker that failed to start leaves nothing open.
    await worker.close(true).catch(() => undefined);
    disconnect();
    throw error;
  }
  return {
    worker,
    close: async () => {
      worker.cancelAllJobs('shutdown');
      await worker.close();
      disconnect();
    },
  };
}

/** A connection whose commands wait through Redis restarts (`maxRetriesPerRequest: null`) instead of failing. */
function retryingRedis(connection: RedisOptions): Redis {
  const redis = new Redis({ ...connection, maxRetriesPerRequest: null });
  // ioredis reconnects by itself; without a listener each failed attempt would be an unhandled error.
  redis.on('error', () => undefined);
  return redis;
}

/** What the worker's jobs run with, from its options and defaults. */
function jobEnvironment(options: WorkerOptions, redis: Redis): JobEnvironment {
  const { registry, context: base = {}, queue = DEFAULT_QUEUE, prefix = PREFIX } = options;
  return {
    redis,
    registry,
    resolveCredentials: options.resolveCredentials ?? (() => base.credentials),
    base,
    queue,
    prefix,
    budget: new SharedBudget(redis, options.budget ?? REPLICATE_BUDGET, prefix),
    emulator: options.emulatorOrigin === undefined ? undefined : { origin: options.emulatorOrigin, host: hostname() },
    detachers: new Map(),
  };
}

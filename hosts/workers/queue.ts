import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { Queue, QueueEvents, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Block, BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import { runGraph, type GraphResult, type GraphRunOptions } from 'replicate-flux-blocks/shared/graph/run-graph.js';
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

/**
 * Options of every job: 5 attempts with exponential backoff from 1 s for failures outside the
 * block (a block's `error` output completes the job; input errors are not retried); finished
 * jobs kept an hour (at most 1000, about 1.4 KiB each), failed ones a week.
 */
export const JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 3_600, count: 1_000 },
  removeOnFail: { age: 7 * 86_400 },
};

/** How to reach the workers. */
export interface JobQueueOptions {
  /** Redis, as ioredis options (see `redisConnection`). */
  readonly connection: RedisOptions;
  /** Queue name, as the workers'. Default `block-runs`. */
  readonly queue?: string;
  /** Key prefix, as the workers'. Default `flux`. */
  readonly prefix?: string;
}

/** A submitter's side of the queue: block and graph runs as jobs, run by workers elsewhere. */
export interface JobQueue {
  /**
   * Runs a block as a job, as `runBlock` does in-process: yields `[output, value]` pairs as the
   * worker yields them (QueueEvents `progress`), stops after `error`, never throws. The input
   * goes to Redis as it is: its `credentials` field must be a reference, never a key.
   * `context.signal` cancels the job and its prediction; `context.runner.onProgress` gets the
   * prediction's status. The context's credentials stay here: workers resolve the reference.
   */
  runBlock(
    block: Block,
    input: unknown,
    context?: BlockContext,
  ): AsyncGenerator<readonly [string, unknown], void, undefined>;
  /** Runs a graph as `runGraph` does, each node run a job (so branches run on several workers). */
  runGraph(graph: unknown, options: GraphRunOptions): Promise<GraphResult>;
  /**
   * Cancels a job: removes it when it waits; else flags it (`<prefix>:<queue>:cancel:<id>`,
   * kept a day) and tells the worker holding it, which cancels its prediction.
   */
  cancel(jobId: string): Promise<void>;
  /**
   * Origins of the embedded emulators that workers on this machine ran this queue's jobs on, as
   * their outputs arrive (`WorkerEmulator`). A host may let Save Image read result URLs there,
   * as it does the embedded emulator's in-process. Only loopback IP origins reported from this
   * machine's host name are kept: no other private address, and none of another machine.
   */
  readonly localEmulators: ReadonlySet<string>;
  close(): Promise<void>;
}

type JobEvent =
  | { readonly kind: 'progress'; readonly data: JobProgress }
  | { readonly kind: 'completed'; readonly result: BlockJobResult }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * Opens the submitter's side: a BullMQ Queue, its QueueEvents and a Redis connection for cancels.
 * @throws {Error} when Redis cannot be reached (within 10 s).
 */
export async function createJobQueue({
  connection,
  queue: name = DEFAULT_QUEUE,
  prefix = PREFIX,
}: JobQueueOptions): Promise<JobQueue> {
  await checkRedis(connection);
  const bull = { connection: connection as ConnectionOptions, prefix };
  const queue = new Queue<BlockJobData, BlockJobResult>(name, bull);
  const events = new QueueEvents(name, bull);
  const redis = new Redis({ ...connection, maxRetriesPerRequest: null });
  queue.on('error', () => undefined);
  events.on('error', () => undefined);
  redis.on('error', () => undefined);
  const listeners = new Map<string, (event: JobEvent) => void>();
  const localEmulators = new Set<string>();
  const note = (emulator: WorkerEmulator | undefined) => {
    if (emulator && emulator.host === hostname() && isLoopbackOrigin(emulator.origin))
      localEmulators.add(emulator.origin);
  };
  events.on('progress', ({ jobId, data }) => listeners.get(jobId)?.({ kind: 'progress', data: data as JobProgress }));
  events.on('completed', ({ jobId, returnvalue }) =>
    listeners.get(jobId)?.({ kind: 'completed', result: returnvalue as unknown as BlockJobResult }),
  );
  events.on('failed', ({ jobId, failedReason }) => listeners.get(jobId)?.({ kind: 'failed', reason: failedReason }));
  // Events are read from the moment this is ready: jobs are only added after.
  try {
    await events.waitUntilReady();
  } catch (error) {
    // Its connections would retry forever: a queue that failed to open leaves nothing open.
    await Promise.all([events.close(), queue.close()]).catch(() => undefined);
    redis.disconnect();
    throw error;
  }

  const cancel = async (jobId: string) => {
    await redis.set(cancelKey(prefix, name, jobId), '1', 'EX', 86_400);
    await redis.publish(cancelChannel(prefix, name), jobId);
    const job = await queue.getJob(jobId);
    // Only a waiting or delayed job can be removed; an active one is stopped by its worker.
    if (job && (await job.getState()) !== 'active') {
      const removed = await job.remove().then(
        () => true,
        () => false,
      );
      if (removed) listeners.get(jobId)?.({ kind: 'failed', reason: 'The run was canceled' });
    }
  };

  async function* runBlock(
    block: Block,
    input: unknown,
    context: BlockContext = {},
  ): AsyncGenerator<readonly [string, unknown], void, undefined> {
    const jobId = randomUUID();
    const pending: JobEvent[] = [];
    let wake: (() => void) | undefined;
    listeners.set(jobId, (event) => {
      pending.push(event);
      wake?.();
    });
    const onAbort = () => void cancel(jobId).catch(() => undefined);
    let yielded = 0;
    try {
      await queue.add(block.name, { blockId: block.id, input, predictions: [] }, { ...JOB_OPTIONS, jobId });
      context.signal?.addEventListener('abort', onAbort, { once: true });
      if (context.signal?.aborted) onAbort();
      for (;;) {
        if (!pending.length) await new Promise<void>((resolve) => (wake = resolve));
        const event = pending.shift()!;
        if (event.kind === 'progress') {
          const { data } = event;
          if (data.type === 'output') note(data.emulator);
          if (data.type === 'prediction') {
            const { type: _, ...progress } = data;
            context.runner?.onProgress?.(progress);
          } else if (data.index === yielded) {
            // A resumed job reports its outputs again: each index is yielded once.
            yielded += 1;
            yield [data.output, data.value];
            if (data.output === 'error') return;
          }
          continue;
        }
        if (event.kind === 'completed') {
          note(event.result.emulator);
          // Outputs whose progress events were missed come with the result.
          for (const [output, value] of event.result.outputs.slice(yielded)) yield [output, value];
          return;
        }
        yield [
          'error',
          context.signal?.aborted
            ? 'The run was stopped by the host; its job and prediction were canceled'
            : `The job failed: ${event.reason}`,
        ];
        return;
      }
    } finally {
      context.signal?.removeEventListener('abort', onAbort);
      listeners.delete(jobId);
    }
  }

  return {
    runBlock,
    runGraph: (graph, options) => runGraph(graph, { ...options, runNode: runBlock }),
    cancel,
    localEmulators,
    close: async () => {
      await events.close();
      await queue.close();
      redis.disconnect();
    },
  };
}

/** True for an http origin (and nothing more) on a loopback IP: 127.0.0.0/8 or [::1]. */
function isLoopbackOrigin(origin: string): boolean {
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  const ip = url.hostname.replace(/^\[|\]$/g, '');
  return (
    url.protocol === 'http:' && url.origin === origin && (ip === '::1' || (isIP(ip) === 4 && ip.startsWith('127.')))
  );
}

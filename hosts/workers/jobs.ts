import type { ProgressEvent } from 'replicate-flux-blocks/shared/replicate/types.js';

/** The queue block runs go to unless told otherwise. */
export const DEFAULT_QUEUE = 'block-runs';
/** BullMQ's key prefix for our queues, cancel flags and rate-limit keys. */
export const PREFIX = 'flux';

/**
 * A block run's job data (JSON in Redis). It holds the block input with its `credentials`
 * reference, never a key; the worker resolves the reference. Always replaced as a whole
 * (`job.updateData` replaces), so patches spread the current data.
 */
export interface BlockJobData {
  /** The block's id. */
  readonly blockId: string;
  /** The input as the host gave it (the credentials field a reference `{provider, id, type}`). */
  readonly input: unknown;
  /** Ids of the predictions this run created, in the order it created them. */
  readonly predictions: readonly string[];
  /**
   * Set just before a create is sent, cleared once its id is in `predictions`: `index` in
   * `predictions` it will take, and when (epoch ms). Left set by a crash in between.
   */
  readonly creating?: { readonly index: number; readonly at: number };
}

/**
 * The embedded emulator a worker runs on (no token, no base URL), whose result URLs are on a
 * loopback origin: readable from the worker's own machine only.
 */
export interface WorkerEmulator {
  /** Its origin, e.g. `http://127.0.0.1:41057`. */
  readonly origin: string;
  /** The worker's host name (`os.hostname()`), so a submitter reads it only on that same machine. */
  readonly host: string;
}

/** What a block job reports while it runs (`job.updateProgress`, QueueEvents `progress`). */
export type JobProgress =
  | {
      readonly type: 'output';
      readonly index: number;
      readonly output: string;
      readonly value: unknown;
      readonly emulator?: WorkerEmulator;
    }
  | ({ readonly type: 'prediction' } & ProgressEvent);

/** What a finished block job returns: every output, in order (the last may be `error`). */
export interface BlockJobResult {
  readonly outputs: ReadonlyArray<readonly [string, unknown]>;
  /** The embedded emulator the outputs came from, when the worker runs on one. */
  readonly emulator?: WorkerEmulator;
}

/** The Redis key flagging a job as canceled (checked when a worker takes the job). */
export const cancelKey = (prefix: string, queue: string, jobId: string) => `${prefix}:${queue}:cancel:${jobId}`;
/** The channel cancels are published on (message: the job id), to the worker holding the job. */
export const cancelChannel = (prefix: string, queue: string) => `${prefix}:${queue}:cancel`;

/**
 * Block runs and graphs as BullMQ jobs on Redis (`replicate-flux-blocks-cli/workers`): see docs/scaling.md.
 * A separate entry point, so hosts that never scale out do not load BullMQ.
 */
export { redisConnection } from './connection.js';
export { createJobQueue, JOB_OPTIONS, type JobQueue, type JobQueueOptions } from './queue.js';
export { startWorker, STALLED_SETTINGS, type RunningWorker, type WorkerOptions } from './worker.js';
export type { ResolveCredentials } from './process-job.js';
export { REPLICATE_BUDGET, SharedBudget, windowFor, type Budget } from './rate-limit.js';
export {
  DEFAULT_QUEUE,
  PREFIX,
  type BlockJobData,
  type BlockJobResult,
  type JobProgress,
  type WorkerEmulator,
} from './jobs.js';

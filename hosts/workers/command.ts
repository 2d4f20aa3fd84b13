import type { RedisOptions } from 'ioredis';
import { registry } from 'replicate-flux-blocks/blocks/index.js';
import { openEnvironment, type HostEnvironment, type Target } from '../environment/environment.js';
import { stopSignal } from '../environment/signals.js';
import { checkedBaseUrl } from '../environment/urls.js';
import { UsageError } from '../environment/usage-error.js';
import { checkRedis, redisConnection } from './connection.js';
import { createJobQueue, type JobQueue } from './queue.js';
import { REPLICATE_BUDGET } from './rate-limit.js';
import { startWorker, type RunningWorker } from './worker.js';
import { parseFlags } from '../environment/parse-flags.js';

/**
 * `flux-blocks worker`: runs block jobs from Redis (`--redis URL`, else `REDIS_URL`) until
 * SIGTERM or SIGINT, then puts its active jobs back for other workers, without canceling
 * their predictions (a second signal, or a shutdown taking over 8 s, exits at once with 130 or
 * 143: `onStopSignals`). Keys come from the worker's environment (`REPLICATE_API_TOKEN`), as
 * with `run`. `--creates-per-minute` and `--others-per-minute` set the token's budget shared
 * by all workers (default Replicate's 600 and 3000). Prints one line on stderr when ready.
 * @returns the exit status: 0 after a clean shutdown.
 * @throws {UsageError} for bad flags.
 */
export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('worker', args, {
    redis: { type: 'string' },
    concurrency: { type: 'string' },
    queue: { type: 'string' },
    'base-url': { type: 'string' },
    'openai-compatible-origins': { type: 'string' },
    'timeout-ms': { type: 'string' },
    out: { type: 'string' },
    'creates-per-minute': { type: 'string' },
    'others-per-minute': { type: 'string' },
  });
  // Every flag is checked before anything starts: a usage error never starts the embedded emulator.
  const url = values.redis ?? process.env.REDIS_URL;
  if (!url) throw new UsageError('worker needs --redis URL (or REDIS_URL)');
  const connection = connectionOf(url);
  const timeoutMs = positive(values['timeout-ms'], '--timeout-ms');
  const concurrency = positive(values.concurrency, '--concurrency') ?? 20;
  const budget = {
    createsPerMinute:
      positive(values['creates-per-minute'], '--creates-per-minute') ?? REPLICATE_BUDGET.createsPerMinute,
    othersPerMinute: positive(values['others-per-minute'], '--others-per-minute') ?? REPLICATE_BUDGET.othersPerMinute,
  };
  // An unreachable Redis is reported before the emulator starts (startWorker checks again).
  await checkRedis(connection);
  const environment = await openEnvironment({
    baseUrl: values['base-url'],
    openAiOrigins: values['openai-compatible-origins'],
    timeoutMs,
    out: values.out ?? 'out',
  });
  console.error(environment.description);
  let running: RunningWorker;
  try {
    running = await startWorker({
      connection,
      registry,
      context: environment.context,
      concurrency,
      queue: values.queue,
      budget,
      emulatorOrigin: environment.embedded && new URL(environment.embedded.url).origin,
    });
  } catch (error) {
    await environment.close();
    throw error;
  }
  console.error(`Worker ${process.pid} ready: queue ${running.worker.name}`);
  await stopSignal();
  await running.close();
  await environment.close();
  console.error(`Worker ${process.pid} stopped; its active jobs are back in the queue`);
  return 0;
}

/**
 * The environment of `run --redis` and `run-graph --redis`: no key (workers resolve the
 * credentials reference), Save Image and `--out` downloads allowed from the base URL's origin
 * (`--base-url` or `REPLICATE_BASE_URL`), and the job queue to run on. The CLI also allows the
 * embedded emulators of workers on this machine as their outputs name them (`jobs.localEmulators`).
 * @throws {Error} with a usage code for a URL that cannot be Redis's; `redis: cannot connect ...`.
 */
export async function openJobEnvironment(
  url: string,
  target: Target,
  env: NodeJS.ProcessEnv = process.env,
): Promise<HostEnvironment & { jobs: JobQueue }> {
  const connection = connectionOf(url);
  const baseUrl = target.baseUrl ?? checkedBaseUrl(env.REPLICATE_BASE_URL || undefined, 'REPLICATE_BASE_URL');
  const jobs = await createJobQueue({ connection });
  return {
    context: {
      save: { dir: target.out, allowedOrigins: baseUrl && URL.canParse(baseUrl) ? [new URL(baseUrl).origin] : [] },
    },
    description: 'Running on the workers of the Redis queue.',
    jobs,
    close: () => jobs.close(),
  };
}

/** `--redis URL` as ioredis options; a URL that cannot be one is a usage error. */
function connectionOf(url: string): RedisOptions {
  try {
    return redisConnection(url);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function positive(flag: string | undefined, name: string): number | undefined {
  if (flag === undefined) return undefined;
  const n = Number(flag);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} takes a positive whole number`);
  return n;
}

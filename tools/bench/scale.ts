import { fork, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue, type ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { ReplicateFluxAdvancedModelBlock as block } from 'replicate-flux-blocks/blocks/index.js';
import { redisConnection } from '../../hosts/workers/connection.js';
import { DEFAULT_QUEUE, PREFIX } from '../../hosts/workers/jobs.js';
import { createJobQueue } from '../../hosts/workers/queue.js';
import type { EmulatorStats } from './emulator-process.js';
import { startRedis } from './redis-server.js';
import { CLI_BIN } from '../paths.js';

/**
 * Scale benchmark (issue 16): `--runs` block runs of `--prediction-ms` predictions through the
 * queue, over 1, 2 and 4 worker processes (`--workers 1,2,4`), each setting with a fresh Redis
 * and emulator (in processes of their own):
 * (a) `limits`: Replicate's documented limits on the emulator (600 creates, 3000 others a
 *     minute) and the workers' default budget: failures, creates vs runs, 429s, and the
 *     sustained create rate after the first burst (per minute);
 * (b) `raised`: 60000 creates and 300000 others a minute on both, so the limits never bind:
 *     the engine's own throughput.
 * Reports p50/p95 from enqueue to a worker starting the job (BullMQ `timestamp` to
 * `processedOn`), and Redis memory per 1000 finished jobs (kept 1 hour, at most 1000).
 *
 * `npm run bench:scale -- [--runs 1000] [--prediction-ms 200] [--workers 1,2,4] [--scenarios limits,raised]`
 */
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    'prediction-ms': { type: 'string', default: '200' },
    workers: { type: 'string', default: '1,2,4' },
    scenarios: { type: 'string', default: 'limits,raised' },
  },
});
const runs = Number(values.runs);
const predictionMs = Number(values['prediction-ms']);
const here = dirname(fileURLToPath(import.meta.url));
const SCENARIOS = {
  limits: { emulator: true, flags: [] as string[] },
  raised: {
    emulator: { createsPerMinute: 60_000, othersPerMinute: 300_000 },
    flags: ['--creates-per-minute', '60000', '--others-per-minute', '300000'],
  },
} as const;

async function measure(scenario: keyof typeof SCENARIOS, workerCount: number) {
  const redis = await startRedis();
  const emulatorProcess = fork(join(here, 'emulator-process.js'), [
    JSON.stringify({ startingMs: 0, processingMs: predictionMs, rateLimits: SCENARIOS[scenario].emulator }),
  ]);
  const { url } = await new Promise<{ url: string }>((resolve) =>
    emulatorProcess.once('message', (m) => resolve(m as { url: string })),
  );
  const workers: ChildProcess[] = [];
  for (let i = 0; i < workerCount; i += 1) {
    const child = spawn(
      process.execPath,
      [CLI_BIN, 'worker', '--redis', redis.url, '--base-url', url, '--concurrency', '50', ...SCENARIOS[scenario].flags],
      {
        env: { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: 'r8_bench_token_0123456789abcdef' },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    await new Promise<void>((resolve) =>
      child.stderr!.on('data', (chunk: Buffer) => /ready/.test(String(chunk)) && resolve()),
    );
    workers.push(child);
  }
  const connection = redisConnection(redis.url);
  const info = new Redis(connection);
  const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await info.info('memory'))![1]);
  const memoryBefore = await usedMemory();
  const jobs = await createJobQueue({ connection });
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: runs }, async (_, i) => {
      let last = '';
      for await (const [output] of jobs.runBlock(block, {
        credentials: { provider: 'replicate', id: 'bench', type: 'api_key' },
        prompt: `scale ${i}`,
        seed: i,
      }))
        last ||= output;
      return last;
    }),
  );
  const wallMs = Date.now() - started;
  const memoryAfter = await usedMemory();
  const queue = new Queue(DEFAULT_QUEUE, { connection: connection as ConnectionOptions, prefix: PREFIX });
  const finished = await queue.getCompleted(0, runs);
  const waits = finished.map((job) => (job.processedOn ?? 0) - job.timestamp).sort((a, b) => a - b);
  const stats = await new Promise<EmulatorStats>((resolve) => {
    emulatorProcess.once('message', (m) => resolve(m as EmulatorStats));
    emulatorProcess.send('stats');
  });
  const created = Object.values(stats.predictions)
    .map((p) => p.createdAt)
    .sort((a, b) => a - b);
  // After the first 10 s (the burst): the mean create rate, and the most creates in any 60 s.
  const after = created.filter((t) => t >= created[0]! + 10_000);
  const sustained =
    after.length > 1 ? Math.round(((after.length - 1) / (after.at(-1)! - after[0]!)) * 60_000) : undefined;
  let maxPerSlidingMinute = 0;
  for (let i = 0, j = 0; i < after.length; i += 1) {
    while (j < after.length && after[j]! < after[i]! + 60_000) j += 1;
    maxPerSlidingMinute = Math.max(maxPerSlidingMinute, j - i);
  }
  const report = {
    scenario,
    workers: workerCount,
    runs,
    failed: results.filter((r) => r !== 'result').length,
    createsSent: stats.createsSent,
    predictionsCreated: stats.predictionsCreated,
    throttled: stats.throttled,
    wallMs,
    runsPerMinute: Math.round((runs / wallMs) * 60_000),
    sustainedCreatesPerMinute: sustained,
    maxCreatesInSlidingMinuteAfterBurst: maxPerSlidingMinute,
    enqueueToStartMs: { p50: waits[Math.floor(waits.length * 0.5)], p95: waits[Math.floor(waits.length * 0.95)] },
    redisKiBPer1000Finished: Math.round(((memoryAfter - memoryBefore) / 1024 / Math.min(runs, 1000)) * 1000),
  };
  console.log(JSON.stringify(report));
  await queue.close();
  await jobs.close();
  info.disconnect();
  for (const worker of workers) worker.kill('SIGTERM');
  await Promise.all(
    workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.once('exit', resolve)))),
  );
  emulatorProcess.send('close');
  await redis.stop();
  return report;
}

let failures = 0;
for (const scenario of values.scenarios.split(',') as Array<keyof typeof SCENARIOS>) {
  for (const count of values.workers.split(',').map(Number)) {
    const report = await measure(scenario, count);
    if (report.failed || report.predictionsCreated !== runs) failures += 1;
  }
}
process.exitCode = failures ? 1 : 0;

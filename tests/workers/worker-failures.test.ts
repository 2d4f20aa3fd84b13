import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, jest, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { registry, ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { redisConnection } from '../../hosts/workers/connection.js';
import { createJobQueue } from '../../hosts/workers/queue.js';
import { startWorker } from '../../hosts/workers/worker.js';
import { Queue, type ConnectionOptions } from 'bullmq';
import { PREFIX, type BlockJobData, type BlockJobResult } from '../../hosts/workers/jobs.js';
import { CREDENTIALS, killed, own, remote, TOKEN, until, useEmulator } from '../helpers.js';

// The queue (createJobQueue) and the worker (startWorker) in this process while their Redis goes
// away and comes back. A Redis of this file's own, on a socket path that stays the same across
// restarts (startRedis picks a new one each time).

const handle = useEmulator({ token: TOKEN, startingMs: 10, processingMs: 40 });

let dir: string;
const socket = () => join(dir, 'redis.sock');
/**
 * This test's redis-server. Stopped after the queue and worker that use it, which are owned later
 * (stops run newest first): closed without their Redis, they would keep reconnecting.
 */
let server: { child?: ChildProcess };

/** Starts redis-server on `socket()` as this test's server; resolves once it answers PING. */
async function startServer() {
  server.child = spawn(
    'redis-server',
    ['--port', '0', '--unixsocket', socket(), '--unixsocketperm', '700', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await until(async () => {
    const probe = new Redis({ path: socket(), lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    const ok = await probe
      .connect()
      .then(() => probe.ping())
      .then(
        () => true,
        () => false,
      );
    probe.disconnect();
    return ok;
  });
  return server.child;
}

let printed: string[];
beforeEach(async () => {
  dir = await own(mkdtemp(join(tmpdir(), 'flux-redis-restart-')), (path) => rm(path, { recursive: true, force: true }));
  server = await own(Promise.resolve<{ child?: ChildProcess }>({}), ({ child }) => child && killed(child));
  printed = [];
  // What the process prints while Redis is away: ioredis reports an error without a listener here.
  jest
    .spyOn(console, 'error')
    .mockImplementation((...args: unknown[]) => void printed.push(args.map(String).join(' ')));
  const write = process.stderr.write.bind(process.stderr) as (chunk: string | Uint8Array) => boolean;
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return write(chunk);
  });
});
afterEach(() => {
  jest.restoreAllMocks();
});

/** Starts this test's Redis, a queue and a worker of `concurrency` slots on it, all owned. */
async function startQueueAndWorker(queue: string, concurrency: number) {
  await startServer();
  const connection = redisConnection(`unix://${socket()}`);
  const jobs = await own(createJobQueue({ connection, queue }), (q) => q.close());
  await own(
    startWorker({
      connection,
      registry,
      context: { credentials: { apiKey: TOKEN }, runner: { baseUrl: handle.emulator.url } },
      queue,
      concurrency,
    }),
    (w) => w.close(),
  );
  return { connection, jobs };
}

test('a Redis restart under an open queue and worker prints nothing and crashes nothing; runs go on after it', async () => {
  const { jobs } = await startQueueAndWorker('restart', 2);
  // A client of the test's own sees the failed reconnects the queue's and worker's clients see.
  const watcher = await own(Promise.resolve(new Redis({ path: socket() })), (r) => r.disconnect());
  let failures = 0;
  watcher.on('error', () => void failures++);
  await watcher.ping();

  await killed(server.child!);
  // Several reconnects of every client have failed (ioredis retries after 50, 100, 150 ms...).
  await until(() => failures >= 4);
  await startServer();

  const outputs: Array<readonly [string, unknown]> = [];
  for await (const pair of jobs.runBlock(block, { credentials: CREDENTIALS, prompt: 'a fox', seed: 3 }))
    outputs.push(pair);
  expect(outputs.map(([name]) => name)).toEqual(['result', 'seed']);
  expect(printed.filter((line) => /unhandled|error/i.test(line))).toEqual([]);
});

test('a job whose lock is lost stops waiting without canceling its prediction; the worker resumes it', async () => {
  const queue = 'lost-lock';
  // One slot: a run that kept waiting would keep the job from being taken again.
  const { connection, jobs } = await startQueueAndWorker(queue, 1);
  const bull = await own(
    Promise.resolve(
      new Queue<BlockJobData, BlockJobResult>(queue, { connection: connection as ConnectionOptions, prefix: PREFIX }),
    ),
    (q) => q.close(),
  );
  const admin = await own(Promise.resolve(new Redis({ path: socket() })), (r) => r.disconnect());
  // Longer than a lost lock takes to be noticed (a renewal, every 5 s) and handed back (a stalled check, every 5 s).
  handle.plan = { processingMs: 30_000 };
  const before = handle.emulator.created;
  const run = (async () => {
    const outputs: Array<readonly [string, unknown]> = [];
    for await (const pair of jobs.runBlock(block, { credentials: CREDENTIALS, prompt: 'a fox', seed: 3 }))
      outputs.push(pair);
    return outputs;
  })();
  const [active] = await until(async () => {
    const found = await bull.getActive();
    return found.length > 0 && found[0]!.data.predictions.length > 0 && found;
  });
  const lock = `${PREFIX}:${queue}:${active!.id!}:lock`;
  const predictionId = active!.data.predictions[0]!;
  // Another worker's stalled check, or a Redis failover, took the lock.
  expect(await admin.del(lock)).toBe(1);
  // The job is taken again (a new lock) while its prediction still runs: the first run let go of its slot.
  await until(async () => (await admin.exists(lock)) === 1);
  expect((await remote(handle.emulator, predictionId)).status).toBe('processing');
  expect((await run).map(([name]) => name)).toEqual(['result', 'seed']);
  // One prediction, resumed, never canceled.
  expect(handle.emulator.created).toBe(before + 1);
  expect((await remote(handle.emulator, predictionId)).status).toBe('succeeded');
});

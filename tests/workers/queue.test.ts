import { hostname } from 'node:os';
import { beforeAll, expect, test } from '@jest/globals';
import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { registry, ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { BlockRegistry } from '../../shared/framework/registry.js';
import { redisConnection } from '../../hosts/workers/connection.js';
import {
  cancelKey,
  PREFIX,
  type BlockJobData,
  type BlockJobResult,
  type JobProgress,
  type WorkerEmulator,
} from '../../hosts/workers/jobs.js';
import { createJobQueue, type JobQueue } from '../../hosts/workers/queue.js';
import { startWorker, type RunningWorker } from '../../hosts/workers/worker.js';
import { startRedis, type TestRedis } from '../../tools/bench/redis-server.js';
import { abortOnceCreated, canceledId, CREDENTIALS, own, remote, TOKEN, until, useEmulator } from '../helpers.js';

// The submitter's queue (createJobQueue) and the worker (startWorker) in this process, against a
// real Redis and the emulator over HTTP. Each test has queues of its own. A "scripted" worker is a
// bare BullMQ Worker reporting what a worker elsewhere (another machine, a resumed run) would.

const handle = useEmulator({ token: TOKEN, startingMs: 10, processingMs: 40 });
let server: TestRedis;
let admin: Redis;
beforeAll(async () => {
  server = await own(startRedis(), (started) => started.stop());
  admin = await own(Promise.resolve(new Redis(server.url)), (client) => client.quit().then(() => undefined));
});

let queues = 0;
/** A queue name of its own for each test. */
const fresh = (name: string) => `${name}-${++queues}`;
const connection = () => redisConnection(server.url);
const input = (prompt: string) => ({ credentials: CREDENTIALS, prompt, seed: 3 });
const context = () => ({ credentials: { apiKey: TOKEN }, runner: { baseUrl: handle.emulator.url } });

/** A submitter on `queue`, closed after the file's tests even if the test fails. */
const submitter = (queue: string): Promise<JobQueue> =>
  own(createJobQueue({ connection: connection(), queue }), (jobs) => jobs.close());
/** A worker on `queue` running on the emulator, closed after the file's tests. */
const worker = (queue: string, options: { registry?: BlockRegistry } = {}): Promise<RunningWorker> =>
  own(startWorker({ connection: connection(), registry, context: context(), queue, concurrency: 2, ...options }), (w) =>
    w.close(),
  );
/** A bare BullMQ queue, to look at jobs as Redis keeps them. */
const inspect = (queue: string) =>
  own(
    Promise.resolve(
      new Queue<BlockJobData, BlockJobResult>(queue, { connection: connection() as ConnectionOptions, prefix: PREFIX }),
    ),
    (q) => q.close(),
  );
/** A worker elsewhere, as BullMQ sees it: runs `process` for each job. */
const scripted = (queue: string, process: (job: Job<BlockJobData, BlockJobResult>) => Promise<BlockJobResult>) =>
  own(
    Promise.resolve(
      new Worker<BlockJobData, BlockJobResult>(queue, process, {
        connection: connection() as ConnectionOptions,
        prefix: PREFIX,
      }),
    ),
    (w) => w.close(),
  );

/** An output's progress event, as a worker reports it. */
const output = (index: number, name: string, value: unknown, emulator?: WorkerEmulator): JobProgress => ({
  type: 'output',
  index,
  output: name,
  value,
  ...(emulator && { emulator }),
});

async function all(run: AsyncIterable<readonly [string, unknown]>) {
  const outputs: Array<readonly [string, unknown]> = [];
  for await (const pair of run) outputs.push(pair);
  return outputs;
}

test('a job streams each output as its worker reports it, once, even when a resumed job reports it again', async () => {
  const queue = fresh('stream');
  const jobs = await submitter(queue);
  const origin = 'http://127.0.0.1:4321';
  let seen!: () => void;
  const firstSeen = new Promise<void>((resolve) => (seen = resolve));
  await scripted(queue, async (job) => {
    await job.updateProgress({ type: 'prediction', predictionId: 'p1', status: 'starting' } satisfies JobProgress);
    await job.updateProgress(output(0, 'result', 'https://x/1.webp', { origin, host: hostname() }));
    // The job goes on only once the submitter has yielded its first output: outputs stream.
    await firstSeen;
    // A resumed run reports its outputs again from the start.
    await job.updateProgress(output(0, 'result', 'https://x/1.webp', { origin, host: hostname() }));
    await job.updateProgress(output(1, 'seed', 3));
    // The last output's progress event was missed: it comes with the result.
    return {
      outputs: [
        ['result', 'https://x/1.webp'],
        ['seed', 3],
        ['file', '/out/1.webp'],
      ],
    };
  });
  const statuses: string[] = [];
  const outputs: Array<readonly [string, unknown]> = [];
  for await (const pair of jobs.runBlock(block, input('a fox'), {
    runner: { onProgress: (e) => statuses.push(e.status) },
  })) {
    outputs.push(pair);
    if (outputs.length === 1) {
      // Known from the output's progress, before the job completed.
      expect([...jobs.localEmulators]).toEqual([origin]);
      seen();
    }
  }
  expect(outputs).toEqual([
    ['result', 'https://x/1.webp'],
    ['seed', 3],
    ['file', '/out/1.webp'],
  ]);
  expect(statuses).toEqual(['starting']);
});

test('an error output ends the run at once; a job that fails yields one error naming why', async () => {
  const queue = fresh('errors');
  const jobs = await submitter(queue);
  await scripted(queue, async (job) => {
    if (job.data.input === 'fail') throw new UnrecoverableError('the disk is full');
    await job.updateProgress(output(0, 'error', 'prompt: must not be empty; give a prompt'));
    await job.updateProgress(output(1, 'late', 1));
    return {
      outputs: [
        ['error', 'prompt: must not be empty; give a prompt'],
        ['late', 1],
      ],
    };
  });
  expect(await all(jobs.runBlock(block, 'error'))).toEqual([['error', 'prompt: must not be empty; give a prompt']]);
  expect(await all(jobs.runBlock(block, 'fail'))).toEqual([['error', 'The job failed: the disk is full']]);
});

test('a worker that does not have the block fails the job with a message naming it', async () => {
  const queue = fresh('unknown-block');
  const jobs = await submitter(queue);
  await worker(queue, { registry: new BlockRegistry() });
  expect(await all(jobs.runBlock(block, input('a fox')))).toEqual([
    ['error', `The job failed: No block with id "${block.id}" is registered in this worker`],
  ]);
});

test('only a loopback http origin named from this machine is trusted; other submitters on the queue run on', async () => {
  const queue = fresh('origins');
  const jobs = await submitter(queue);
  // Another submitter on the same queue sees every job's events, none of them its own.
  const other = await submitter(queue);
  await scripted(queue, async (job) => {
    const emulator = job.data.input as { origin: string; host: string };
    await job.updateProgress(output(0, 'result', 'x', emulator));
    return { outputs: [['result', 'x']], emulator };
  });
  const here = hostname();
  for (const emulator of [
    { origin: 'http://127.0.0.1:4321', host: `${here}-elsewhere` },
    { origin: 'https://127.0.0.1:4321', host: here },
    { origin: 'http://127.0.0.1.nip.io:4321', host: here },
    { origin: 'not an origin', host: here },
  ])
    expect(await all(jobs.runBlock(block, emulator))).toEqual([['result', 'x']]);
  expect([...jobs.localEmulators]).toEqual([]);
  expect(await all(other.runBlock(block, { origin: 'http://[::1]:4321', host: here }))).toEqual([['result', 'x']]);
  expect([...other.localEmulators]).toEqual(['http://[::1]:4321']);
});

test("a host's abort cancels the running job and its prediction; an abort after the run keeps its result", async () => {
  const queue = fresh('abort');
  const jobs = await submitter(queue);
  await worker(queue);
  const bull = await inspect(queue);
  handle.plan = { processingMs: 60_000 };
  const { signal } = abortOnceCreated(handle.emulator);
  const outputs = await all(jobs.runBlock(block, input('a fox'), { signal }));
  // The worker's run ends with the block's own error output, naming the canceled prediction.
  expect(outputs).toEqual([
    ['error', expect.stringMatching(/^The run was stopped by the host; prediction \w+ was canceled\./)],
  ]);
  expect((await remote(handle.emulator, canceledId(outputs[0]![1] as string))).status).toBe('canceled');

  // An abort once the run is over sends no cancel: the job and its result stay.
  handle.plan = {};
  const controller = new AbortController();
  const after = await all(jobs.runBlock(block, input('a hare'), { signal: controller.signal }));
  expect(after.map(([name]) => name)).toEqual(['result', 'seed']);
  controller.abort();
  // A cancel sent after the abort: the same connection would have sent the abort's cancel before it.
  await jobs.cancel('no-such-job');
  const [completed] = await bull.getCompleted();
  expect(await admin.exists(cancelKey(PREFIX, queue, completed!.id!))).toBe(0);
  expect(await completed!.getState()).toBe('completed');
});

test('a run whose signal is already aborted creates no prediction', async () => {
  const queue = fresh('pre-aborted');
  const jobs = await submitter(queue);
  await worker(queue);
  const before = handle.emulator.created;
  expect(await all(jobs.runBlock(block, input('a fox'), { signal: AbortSignal.abort() }))).toEqual([
    ['error', 'The run was stopped by the host; its job and prediction were canceled'],
  ]);
  expect(handle.emulator.created).toBe(before);
});

test('cancel removes a waiting job and ends its run; a job nobody here runs is removed too', async () => {
  const queue = fresh('cancel-waiting');
  const jobs = await submitter(queue);
  const bull = await inspect(queue);
  // No worker: the job waits.
  const run = all(jobs.runBlock(block, input('a fox')));
  const [waiting] = await until(async () => {
    const found = await bull.getWaiting();
    return found.length > 0 && found;
  });
  await jobs.cancel(waiting!.id!);
  expect(await run).toEqual([['error', 'The job failed: The run was canceled']]);
  expect(await bull.getJob(waiting!.id!)).toBeUndefined();

  // Added by another submitter (say, one that exited): canceled all the same.
  const orphan = await bull.add(block.name, { blockId: block.id, input: input('a hare'), predictions: [] });
  await jobs.cancel(orphan.id!);
  expect(await bull.getJob(orphan.id!)).toBeUndefined();
});

test("a worker's close hands its running job to the next worker, which resumes its prediction", async () => {
  const queue = fresh('handover');
  const jobs = await submitter(queue);
  const bull = await inspect(queue);
  const first = await worker(queue);
  handle.plan = { processingMs: 1_500 };
  const before = handle.emulator.created;
  const run = all(jobs.runBlock(block, input('a fox')));
  await until(() => handle.emulator.created > before);
  const [active] = await until(async () => {
    const found = await bull.getActive();
    return found.length > 0 && found[0]!.data.predictions.length > 0 && found;
  });
  await first.close();
  await worker(queue);
  expect((await run).map(([name]) => name)).toEqual(['result', 'seed']);
  // One prediction, resumed: none canceled, none created twice; the handover used no attempt.
  expect(handle.emulator.created).toBe(before + 1);
  const job = (await bull.getJob(active!.id!))!;
  expect((await remote(handle.emulator, job.data.predictions[0]!)).status).toBe('succeeded');
  expect(job.attemptsMade).toBe(1);
  // The job names the host and process that ran it; a worker without an embedded emulator names none.
  expect(job.processedBy).toBe(`${hostname()}:${process.pid}`);
  expect(job.returnvalue.emulator).toBeUndefined();
});

test('closing the queue and the worker leaves no connection open in Redis', async () => {
  const queue = fresh('close');
  const clients = async () =>
    String(await admin.client('LIST'))
      .trim()
      .split('\n').length;
  const before = await clients();
  const jobs = await submitter(queue);
  const running = await worker(queue);
  expect(await clients()).toBeGreaterThan(before);
  await jobs.close();
  await running.close();
  await until(async () => (await clients()) === before);
});

test('a graph run through the queue runs each node as a job', async () => {
  const queue = fresh('graph');
  const jobs = await submitter(queue);
  await worker(queue);
  const bull = await inspect(queue);
  const graph = {
    nodes: [
      { id: 'a', block_id: block.id, input_default: input('a fox') },
      { id: 'b', block_id: block.id, input_default: input('a hare') },
    ],
    links: [],
  };
  const result = await jobs.runGraph(graph, { registry, context: {} });
  expect(result.failures).toEqual([]);
  expect(result.outputs.map(({ node, output }) => `${node}.${output}`).sort()).toEqual([
    'a.result',
    'a.seed',
    'b.result',
    'b.seed',
  ]);
  expect(await bull.getCompletedCount()).toBe(2);
});

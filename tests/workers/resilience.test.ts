import { afterEach, beforeAll, expect, test } from '@jest/globals';
import { Queue, QueueEvents, type ConnectionOptions, type Job } from 'bullmq';
import { ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { startEmulator, type Emulator, type PredictionPlan } from '../../emulator/index.js';
import { redisConnection } from '../../hosts/workers/connection.js';
import { DEFAULT_QUEUE, PREFIX, type BlockJobData, type BlockJobResult } from '../../hosts/workers/jobs.js';
import { createJobQueue, type JobQueue } from '../../hosts/workers/queue.js';
import { creates, CREDENTIALS, own, remote, requestsTo, scaled, TOKEN, until } from '../helpers.js';
import { spawnWorker, stopWorkers, type WorkerProcess } from './processes.js';
import { startRedis, type TestRedis } from '../../tools/bench/redis-server.js';

let redis: TestRedis;
let emulator: Emulator;
let jobs: JobQueue;
let queue: Queue<BlockJobData, BlockJobResult>;
let events: QueueEvents;
const workers: WorkerProcess[] = [];
let plan: PredictionPlan = {};
beforeAll(async () => {
  redis = await own(startRedis(), (started) => started.stop());
  // Creates answer after at most 1 s (Prefer: wait is cut short), so ids are recorded mid-run.
  emulator = await own(
    startEmulator({
      token: TOKEN,
      startingMs: 10,
      processingMs: 40,
      maxSyncWaitSeconds: 1,
      maxRecorded: 10_000,
      plan: () => plan,
    }),
    (started) => started.close(),
  );
  const connection = redisConnection(redis.url);
  jobs = await own(createJobQueue({ connection }), (started) => started.close());
  queue = await own(
    Promise.resolve(
      new Queue<BlockJobData, BlockJobResult>(DEFAULT_QUEUE, {
        connection: connection as ConnectionOptions,
        prefix: PREFIX,
      }),
    ),
    (started) => started.close(),
  );
  events = await own(
    Promise.resolve(new QueueEvents(DEFAULT_QUEUE, { connection: connection as ConnectionOptions, prefix: PREFIX })),
    (started) => started.close(),
  );
  await events.waitUntilReady();
});
afterEach(() => stopWorkers(workers.splice(0)));

async function worker(concurrency = 10): Promise<WorkerProcess> {
  const started = await spawnWorker(redis.url, emulator.url, ['--concurrency', String(concurrency)]);
  workers.push(started);
  return started;
}

const input = (prompt: string) => ({ credentials: CREDENTIALS, prompt, seed: 1 });

async function collect(
  run: AsyncGenerator<readonly [string, unknown]>,
): Promise<ReadonlyArray<readonly [string, unknown]>> {
  const outputs: Array<readonly [string, unknown]> = [];
  for await (const output of run) outputs.push(output);
  return outputs;
}

/** The prediction id in a result URL. */
const predictionOf = (outputs: ReadonlyArray<readonly [string, unknown]>) =>
  /\/files\/([a-z2-7]+)\//.exec(String(outputs[0]?.[1]))?.[1];

/** Active jobs of one worker process whose prediction is recorded: job id -> prediction id. */
async function recordedOn(workerPid: number): Promise<Map<string, string>> {
  const active = await queue.getActive();
  return new Map(
    active
      .filter((job) => job.processedBy?.endsWith(`:${workerPid}`) && job.data.predictions[0])
      .map((job) => [job.id!, job.data.predictions[0]!]),
  );
}

async function untilRecorded(workerPid: number, count: number): Promise<Map<string, string>> {
  return until(async () => {
    const recorded = await recordedOn(workerPid);
    return recorded.size >= count && recorded;
  }, 50);
}

test.each(['SIGKILL', 'SIGTERM'] as const)(
  '%s of a worker in the middle of its predictions: every run ends with its result, each prediction created once and resumed by the other worker',
  async (signal) => {
    // Long enough that A's predictions still run once B has started, however slowly a busy machine
    // starts a process; A's shutdown on SIGTERM must come well before they end.
    plan = { processingMs: 8_000 };
    emulator.requests.splice(0);
    // A alone takes the first jobs (10 at a time), so it surely holds some when it is stopped;
    // B starts once A's predictions run, and takes the rest.
    const a = await worker();
    const runs = Array.from({ length: 12 }, (_, i) => collect(jobs.runBlock(block, input(`${signal} ${i}`))));
    await untilRecorded(a.child.pid!, 3);
    const b = await worker();
    // What A holds as it is stopped (read once B is up: its start may have taken a while).
    const onA = await untilRecorded(a.child.pid!, 1);
    const killedAt = Date.now();

    a.child.kill(signal);
    const how = await a.exited;
    if (signal === 'SIGTERM') {
      expect(how).toBe(0);
      expect(Date.now() - killedAt).toBeLessThan(scaled(4_000));
    }
    const results = await Promise.all(runs);
    const resumedWithin = Date.now() - killedAt;
    for (const outputs of results) expect(outputs.map(([name]) => name)).toEqual(['result', 'seed']);
    expect(creates(emulator)).toEqual({ sent: 12, created: 12 });
    expect(requestsTo(emulator, 'POST', /\/cancel$/)).toHaveLength(0);
    const finished = await Promise.all([...onA.keys()].map((id) => queue.getJob(id)));
    for (const job of finished as Array<Job<BlockJobData, BlockJobResult>>) {
      // Each ended with the prediction A created: resumed on B (or finished by A as it stopped).
      expect(predictionOf(job.returnvalue.outputs)).toBe(onA.get(job.id!));
      if (signal === 'SIGTERM') expect(job.stalledCounter).toBe(0);
    }
    const resumedOnB = finished.filter((job) => job!.processedBy?.endsWith(`:${b.child.pid}`));
    expect(resumedOnB.length).toBeGreaterThanOrEqual(signal === 'SIGKILL' ? onA.size : 1);
    // A killed worker's jobs are taken over within 20 s (lockDuration 10 s + stalledInterval 5 s).
    expect(resumedWithin).toBeLessThan(scaled(20_000));
    await stopWorkers([b]);
  },
  scaled(60_000),
);

test('a 429 met by one worker holds back the creates of the other until its Retry-After', async () => {
  plan = {};
  // Four jobs at a time each: nine jobs held back by the Retry-After cannot all fit on one worker,
  // so both take some however the machine schedules them (with ten each, one could take all).
  const [a, b] = [await worker(4), await worker(4)];
  emulator.requests.splice(0);
  emulator.inject({ route: 'create', answer: { status: 429, retryAfter: '2' } });
  const first = collect(jobs.runBlock(block, input('429 first')));
  await until(() => emulator.requests.some((r) => r.outcome === 429), 10);
  const throttledAt = Date.now();
  const more = Array.from({ length: 8 }, (_, i) => collect(jobs.runBlock(block, input(`429 then ${i}`))));
  const results = await Promise.all([first, ...more]);
  for (const outputs of results) expect(outputs.map(([name]) => name)).toEqual(['result', 'seed']);
  const ids = results.map(predictionOf) as string[];
  const created = await Promise.all(
    ids.map(async (id) => Date.parse(((await remote(emulator, id)) as unknown as { created_at: string }).created_at)),
  );
  // Both workers ran some of them, and none was created before the Retry-After passed.
  const prompts = new Set(Array.from({ length: 8 }, (_, i) => `429 then ${i}`));
  const completed = (await queue.getCompleted(0, 100)).filter((job) =>
    prompts.has((job.data.input as { prompt: string }).prompt),
  );
  expect(completed).toHaveLength(8);
  const pids = new Set(completed.map((job) => Number(job.processedBy?.split(':').pop())));
  expect(pids).toEqual(new Set([a.child.pid, b.child.pid]));
  for (const at of created) expect(at - throttledAt).toBeGreaterThanOrEqual(1_800);
  expect(creates(emulator)).toEqual({ sent: 10, created: 9 });
  await stopWorkers([a, b]);
});

test('a job picked up with only the intent recorded resumes the prediction it finds by input, and fails rather than guess between two', async () => {
  plan = {};
  const w = await worker();
  const [done] = await Promise.all([collect(jobs.runBlock(block, input('intent only')))]);
  const id = predictionOf(done)!;
  const sent = (await remote(emulator, id)).input;
  emulator.requests.splice(0);
  // As a crash between the create and recording its id leaves it.
  const crashed = await queue.add(block.name, {
    blockId: block.id,
    input: input('intent only'),
    predictions: [],
    creating: { index: 0, at: Date.now() },
  });
  const result = await crashed.waitUntilFinished(events, scaled(30_000));
  expect(predictionOf(result.outputs)).toBe(id);
  expect(creates(emulator).sent).toBe(0);
  expect(requestsTo(emulator, 'GET', /^\/v1\/predictions\?/)).toHaveLength(1);
  // A second prediction with that input: which one was this job's? It fails, creating none.
  await collect(jobs.runBlock(block, input('intent only')));
  emulator.requests.splice(0);
  const ambiguous = await queue.add(
    block.name,
    { blockId: block.id, input: input('intent only'), predictions: [], creating: { index: 0, at: Date.now() } },
    { attempts: 3 },
  );
  await expect(ambiguous.waitUntilFinished(events, scaled(30_000))).rejects.toThrow(
    /2 predictions with its input exist .*not creating another/,
  );
  expect((await queue.getJob(ambiguous.id!))!.attemptsMade).toBe(1);
  expect(creates(emulator).sent).toBe(0);
  expect(sent).toMatchObject({ prompt: 'intent only' });
  await stopWorkers([w]);
});

test('canceling a run cancels its job and its prediction; an unknown block fails at once', async () => {
  plan = { processingMs: 30_000 };
  const w = await worker();
  emulator.requests.splice(0);
  const stop = new AbortController();
  const run = collect(jobs.runBlock(block, input('cancel me'), { signal: stop.signal }));
  await until(() => emulator.requests.some((r) => r.method === 'GET'));
  stop.abort();
  const outputs = await run;
  expect(outputs).toEqual([['error', expect.stringMatching(/stopped by the host/)]]);
  const [cancel] = requestsTo(emulator, 'POST', /\/cancel$/);
  expect(cancel).toBeDefined();
  const canceledId = /predictions\/([a-z2-7]+)\/cancel/.exec(cancel!.path)![1]!;
  expect((await remote(emulator, canceledId)).status).toBe('canceled');
  const unknown = await queue.add('x', { blockId: 'no-such-block', input: {}, predictions: [] }, { attempts: 5 });
  await expect(unknown.waitUntilFinished(events, scaled(30_000))).rejects.toThrow(/No block with id "no-such-block"/);
  expect((await queue.getJob(unknown.id!))!.attemptsMade).toBe(1);
  await stopWorkers([w]);
});

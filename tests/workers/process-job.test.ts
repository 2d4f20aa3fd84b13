import { beforeAll, describe, expect, test } from '@jest/globals';
import { DelayedError, Queue, QueueEvents, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { cancelKey, type BlockJobData, type BlockJobResult, type JobProgress } from '../../hosts/workers/jobs.js';
import { processJob, type JobEnvironment } from '../../hosts/workers/process-job.js';
import { SharedBudget, type Budget } from '../../hosts/workers/rate-limit.js';
import type { Block } from '../../shared/framework/block.js';
import { BlockRegistry } from '../../shared/framework/registry.js';
import { startRedis, type TestRedis } from '../../tools/bench/redis-server.js';
import {
  abortOnceCreated,
  abortWhen,
  collect,
  contextFor,
  creates,
  CREDENTIALS,
  own,
  remote,
  requestsTo,
  TOKEN,
  until,
  useEmulator,
} from '../helpers.js';

// One job's run (hosts/workers/process-job.ts) in this process, as a worker runs it: a real
// Redis holds the job (taken with BullMQ's manual getNextJob, so the test holds its lock token
// and its abort signal), and the block's predictions go to the emulator over HTTP.

const handle = useEmulator();
let server: TestRedis;
let redis: Redis;
beforeAll(async () => {
  server = await own(startRedis(), (started) => started.stop());
  redis = await own(Promise.resolve(new Redis({ path: server.path })), (client) => client.quit().then(() => undefined));
});

/** Closes `item` after all tests, before Redis stops (a queue, a manual worker, an event reader). */
function closing<T extends { close(): Promise<unknown> }>(item: T): T {
  void own(Promise.resolve(item), (opened) => opened.close().catch(() => undefined));
  return item;
}

const PREFIX = 'process-job-test';
/** Each test's job gets a queue of its own, and its prompt an input no other test's prediction has. */
let queues = 0;

/** The worker's secret for the test credentials; any other reference does not resolve. */
async function resolveCredentials(reference: unknown) {
  const id = (reference as { id?: unknown } | null)?.id;
  if (id !== CREDENTIALS.id) throw new Error(`no credentials with id ${String(id)}`);
  return { apiKey: TOKEN };
}

interface Taken {
  readonly env: JobEnvironment;
  readonly queue: Queue<BlockJobData, BlockJobResult>;
  /** Takes the next job as a worker does, locked with a token of its own. */
  take(): Promise<{ job: Job<BlockJobData, BlockJobResult>; token: string }>;
}

/**
 * A queue holding one job of `data`, and the environment a worker runs it with (the emulator
 * as base URL, the test's credentials resolver, a budget of its own under the queue's prefix).
 */
async function queued(
  data: Partial<BlockJobData>,
  options: { budget?: Budget; budgetRedis?: Redis; emulator?: JobEnvironment['emulator'] } = {},
): Promise<Taken> {
  const name = `jobs-${++queues}`;
  const connection = { path: server.path };
  const queue = closing(new Queue<BlockJobData, BlockJobResult>(name, { connection, prefix: PREFIX }));
  const worker = closing(new Worker<BlockJobData, BlockJobResult>(name, null, { connection, prefix: PREFIX }));
  await queue.add('run', { blockId: block.id, input: {}, predictions: [], ...data });
  const env: JobEnvironment = {
    redis,
    registry: new BlockRegistry([block]),
    resolveCredentials,
    base: { runner: { baseUrl: handle.emulator.url, pollIntervalMs: 20 } },
    queue: name,
    prefix: PREFIX,
    budget: new SharedBudget(
      options.budgetRedis ?? redis,
      options.budget ?? { createsPerMinute: 600, othersPerMinute: 3000 },
      `${PREFIX}-${name}`,
    ),
    emulator: options.emulator,
    detachers: new Map(),
  };
  let takes = 0;
  return {
    env,
    queue,
    take: async () => {
      const token = `${name}-take-${++takes}`;
      const job = await until(() => worker.getNextJob(token));
      return { job, token };
    },
  };
}

/** The block's input with the test credentials reference and a prompt of this test's own. */
const inputFor = (prompt: string, seed = 7) => ({ credentials: CREDENTIALS, prompt, seed, output_format: 'png' });

/** The job's data as Redis holds it now. */
async function stored(queue: Queue<BlockJobData, BlockJobResult>, id: string): Promise<Job<BlockJobData>> {
  const job = await queue.getJob(id);
  expect(job).toBeDefined();
  return job!;
}

/** What `processJob` rejects with (failing the test when it resolves). */
async function failure(run: Promise<unknown>): Promise<Error> {
  return run.then(
    (result) => {
      throw new Error(`the run ended with ${JSON.stringify(result)}`);
    },
    (error: unknown) => error as Error,
  );
}

/** The ids of predictions the emulator made for `prompt`, read through the API's list. */
async function predictionsFor(prompt: string): Promise<string[]> {
  const response = await fetch(`${handle.emulator.url}/predictions`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  const { results } = (await response.json()) as { results: Array<{ id: string; input: { prompt?: string } }> };
  return results.filter((p) => p.input.prompt === prompt).map((p) => p.id);
}

describe('a job is refused before anything is sent', () => {
  test('a canceled job, an unknown block and credentials that do not resolve fail at once, naming the cause', async () => {
    const canceled = await queued({ input: inputFor('canceled while waiting') });
    const first = await canceled.take();
    await redis.set(cancelKey(PREFIX, canceled.env.queue, first.job.id!), '1');
    const cancelError = await failure(processJob(canceled.env, first.job, first.token));
    expect(cancelError).toBeInstanceOf(UnrecoverableError);
    expect(cancelError.message).toBe('The run was canceled');

    const unknown = await queued({ blockId: 'no-such-block', input: inputFor('unknown block') });
    const second = await unknown.take();
    const unknownError = await failure(processJob(unknown.env, second.job, second.token));
    expect(unknownError).toBeInstanceOf(UnrecoverableError);
    expect(unknownError.message).toBe('No block with id "no-such-block" is registered in this worker');

    const reference = { ...CREDENTIALS, id: 'someone-else' };
    const unresolved = await queued({ input: { ...inputFor('unresolved credentials'), credentials: reference } });
    const third = await unresolved.take();
    const credentialsError = await failure(processJob(unresolved.env, third.job, third.token));
    expect(credentialsError).toBeInstanceOf(UnrecoverableError);
    expect(credentialsError.message).toBe(
      'credentials: the reference could not be resolved (no credentials with id someone-else)',
    );

    expect(handle.emulator.requests).toEqual([]);
  });

  test('a job without a credentials reference, or without any input, ends with the block naming what is missing', async () => {
    const resolved: unknown[] = [];
    const noReference = await queued({ input: { prompt: 'no credentials', seed: 7 } });
    const env = {
      ...noReference.env,
      resolveCredentials: (reference: unknown) => (resolved.push(reference), resolveCredentials(reference)),
    };
    const first = await noReference.take();
    const { outputs } = await processJob(env, first.job, first.token);
    expect(outputs).toHaveLength(1);
    expect(outputs[0]![0]).toBe('error');
    expect(outputs[0]![1]).toBe('Invalid input: credentials: is required');
    expect(resolved).toEqual([]); // nothing to resolve: the resolver is not asked

    const noInput = await queued({ input: null });
    const second = await noInput.take();
    const result = await processJob(noInput.env, second.job, second.token);
    expect(result.outputs.map(([name]) => name)).toEqual(['error']);
    expect(handle.emulator.requests).toEqual([]);
  });
});

describe('a run', () => {
  test('reports prediction progress and each output, returns every output, and records its prediction', async () => {
    const emulator = { origin: new URL(handle.emulator.url).origin, host: 'worker-host' };
    const { env, queue, take } = await queued({ input: inputFor('a run with progress') }, { emulator });
    const events = closing(new QueueEvents(env.queue, { connection: { path: server.path }, prefix: PREFIX }));
    const progress: JobProgress[] = [];
    events.on('progress', ({ data }) => void progress.push(data as JobProgress));
    await events.waitUntilReady();
    const { job, token } = await take();
    const result = await processJob(env, job, token);

    const [id] = await predictionsFor('a run with progress');
    expect(result.emulator).toEqual(emulator);
    expect(result.outputs).toEqual([
      ['result', expect.stringMatching(new RegExp(`/files/${id}/out-0\\.png$`))],
      ['seed', 7],
    ]);
    expect(creates(handle.emulator).sent).toBe(1);
    // Outputs as the submitter reads them, each with the emulator its URL is on.
    await until(() => progress.filter((p) => p.type === 'output').length === 2);
    expect(progress.filter((p) => p.type === 'output')).toEqual(
      result.outputs.map(([output, value], index) => ({ type: 'output', index, output, value, emulator })),
    );
    // The prediction's status as it ran, before the outputs.
    const statuses = progress.filter((p) => p.type === 'prediction');
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses[0]).toMatchObject({ type: 'prediction', predictionId: id, status: expect.any(String) });
    expect(progress.findIndex((p) => p.type === 'output')).toBeGreaterThan(progress.indexOf(statuses[0]!));

    expect((await stored(queue, job.id!)).data).toEqual({ ...job.data, predictions: [id], creating: undefined });
    expect(env.detachers.size).toBe(0); // nothing of the finished job stays in the worker
  });

  test('a run whose job was already run to a prediction waits for that one instead of creating another', async () => {
    const input = inputFor('resumed by its record');
    await collect(block, input, contextFor(handle.emulator));
    const earlier = await predictionsFor('resumed by its record');
    const before = creates(handle.emulator).sent;
    const { env, take } = await queued({ input, predictions: earlier });
    const { job, token } = await take();
    const { outputs } = await processJob(env, job, token);
    expect(outputs[0]).toEqual(['result', expect.stringContaining(`/files/${earlier[0]}/`)]);
    expect(creates(handle.emulator).sent).toBe(before);
  });
});

describe('stopping a run', () => {
  test("a submitter's cancel cancels the prediction and fails the job", async () => {
    handle.plan = { processingMs: 30_000 };
    const { env, take } = await queued({ input: inputFor('canceled by the submitter') });
    const { job, token } = await take();
    const error = await failure(processJob(env, job, token, abortOnceCreated(handle.emulator, 'user').signal));
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toBe('The run was canceled; its prediction was canceled too');
    const [id] = await predictionsFor('canceled by the submitter');
    expect(requestsTo(handle.emulator, 'POST', new RegExp(`/predictions/${id}/cancel$`))).toHaveLength(1);
    expect((await remote(handle.emulator, id!)).status).toBe('canceled');
  });

  test('a shutdown puts the job back to waiting with its prediction running; the next run resumes it, billed once', async () => {
    handle.plan = { processingMs: 1_500 };
    const prompt = 'stopped by a shutdown';
    const { env, queue, take } = await queued({ input: inputFor(prompt) });
    const first = await take();
    // SIGTERM once the prediction is created and recorded.
    const recorded = async () => (await stored(queue, first.job.id!)).data.predictions.length > 0;
    const error = await failure(processJob(env, first.job, first.token, abortWhen(recorded, 'shutdown').signal));
    expect(error).toBeInstanceOf(WaitingError);
    const [id] = await predictionsFor(prompt);
    expect(await queue.getJobState(first.job.id!)).toBe('waiting');
    expect((await stored(queue, first.job.id!)).data.predictions).toEqual([id]);
    expect(requestsTo(handle.emulator, 'POST', /\/cancel$/)).toEqual([]);

    const second = await take();
    expect(second.job.id).toBe(first.job.id);
    const { outputs } = await processJob(env, second.job, second.token);
    expect(outputs[0]).toEqual(['result', expect.stringContaining(`/files/${id}/`)]);
    expect(creates(handle.emulator).sent).toBe(1);
    expect(await predictionsFor(prompt)).toEqual([id]);
  });

  test("a host's block that makes two predictions resumes both after a shutdown, each billed once", async () => {
    handle.plan = { processingMs: 1_500 };
    const prompt = 'two predictions a run';
    // A block of the host's own (the worker's registry may hold any): two images, one prediction each.
    const twice: Block = {
      ...block,
      id: '5d0b7c1e-8f3a-4b6d-9c2e-1a7f3e9b4d60',
      name: 'TwoImagesTestBlock',
      async *run(input, context) {
        yield* block.run(input, context);
        yield* block.run({ ...input, seed: input.seed! + 1 }, context);
      },
    };
    const { env, queue, take } = await queued({ blockId: twice.id, input: inputFor(prompt) });
    const worker = { ...env, registry: new BlockRegistry([twice]) };
    const first = await take();
    const recorded = async () => (await stored(queue, first.job.id!)).data.predictions.length === 2;
    const error = await failure(processJob(worker, first.job, first.token, abortWhen(recorded, 'shutdown').signal));
    expect(error).toBeInstanceOf(WaitingError);

    const second = await take();
    const { outputs } = await processJob(worker, second.job, second.token);
    expect(outputs.map(([name]) => name)).toEqual(['result', 'seed', 'result', 'seed']);
    expect(creates(handle.emulator).sent).toBe(2);
    expect((await predictionsFor(prompt)).sort()).toEqual([...second.job.data.predictions].sort());
  });

  test('a lost lock stops waiting without canceling the prediction, and fails the job for a retry', async () => {
    handle.plan = { processingMs: 30_000 };
    const { env, take } = await queued({ input: inputFor('lost its lock') });
    const { job, token } = await take();
    const before = handle.emulator.created;
    // No BullMQ signal: the worker's lockRenewalFailed handler aborts the job's detacher.
    const running = failure(processJob(env, job, token));
    await until(() => handle.emulator.created > before);
    env.detachers.get(job.id!)!.abort();
    const error = await running;
    expect(error).not.toBeInstanceOf(UnrecoverableError);
    expect(error.message).toBe("The worker lost the job's lock; the prediction runs on for the next worker");
    expect(requestsTo(handle.emulator, 'POST', /\/cancel$/)).toEqual([]);
    expect(env.detachers.size).toBe(0);
  });
});

describe('a crash between a create and its record', () => {
  test('the next run finds the prediction by its input and resumes it instead of creating another', async () => {
    handle.plan = { processingMs: 1_000 };
    const prompt = 'create answer lost';
    const { env, queue, take } = await queued({ input: inputFor(prompt) });
    // The create makes its prediction, and its answer never comes back: as a crash right after sending.
    handle.emulator.inject({ route: 'create', answer: 'hang', afterHandling: true });
    const first = await take();
    const before = handle.emulator.created;
    const stop = new AbortController();
    const running = failure(processJob(env, first.job, first.token, stop.signal));
    await until(() => handle.emulator.created > before);
    // The intent was recorded before the create went out.
    expect((await stored(queue, first.job.id!)).data).toMatchObject({ predictions: [], creating: { index: 0 } });
    stop.abort('shutdown');
    expect(await running).toBeInstanceOf(WaitingError);

    const second = await take();
    const { outputs } = await processJob(env, second.job, second.token);
    const [id] = await predictionsFor(prompt);
    expect(outputs[0]).toEqual(['result', expect.stringContaining(`/files/${id}/`)]);
    expect(creates(handle.emulator).sent).toBe(1);
    expect((await stored(queue, second.job.id!)).data).toEqual({
      ...second.job.data,
      predictions: [id],
      creating: undefined,
    });
  });

  test('with no prediction of its input, the next run creates it once', async () => {
    const prompt = 'create never sent';
    const { env, queue, take } = await queued({ input: inputFor(prompt), creating: { index: 0, at: Date.now() } });
    const { job, token } = await take();
    const { outputs } = await processJob(env, job, token);
    const [id] = await predictionsFor(prompt);
    expect(outputs[0]).toEqual(['result', expect.stringContaining(`/files/${id}/`)]);
    expect(creates(handle.emulator).sent).toBe(1);
    expect((await stored(queue, job.id!)).data.predictions).toEqual([id]);
  });

  test('with several predictions of its input, the job fails naming them rather than pay a third time', async () => {
    const prompt = 'created twice before';
    const input = inputFor(prompt);
    for (let i = 0; i < 2; i += 1) await collect(block, input, contextFor(handle.emulator));
    const ids = await predictionsFor(prompt);
    expect(ids).toHaveLength(2);
    const { env, take } = await queued({ input, creating: { index: 0, at: Date.now() } });
    const { job, token } = await take();
    const error = await failure(processJob(env, job, token));
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect(error.message).toBe(
      `A crash left prediction create 1 unrecorded, and 2 predictions with its input exist (${ids.join(', ')}): not creating another`,
    );
    expect(creates(handle.emulator).sent).toBe(2);
  });

  test('a lookup that fails fails the job for a retry, and sends no create', async () => {
    handle.emulator.inject({ route: 'list', answer: { status: 401 } });
    const { env, take } = await queued({
      input: inputFor('lookup fails'),
      creating: { index: 0, at: Date.now() },
    });
    const { job, token } = await take();
    const error = await failure(processJob(env, job, token));
    expect(error).not.toBeInstanceOf(UnrecoverableError);
    expect(error.message).toMatch(/401/);
    expect(creates(handle.emulator).sent).toBe(0);
  });

  test('a prediction id Redis does not take fails the job for a retry, the prediction left running', async () => {
    const { env, take } = await queued({ input: inputFor('record refused') });
    const { job, token } = await take();
    // Redis takes the intent and then refuses the write of the id, as when it goes away mid-run.
    const update = job.updateData.bind(job);
    job.updateData = (data) =>
      data.predictions.length > 0 ? Promise.reject(new Error('Connection is closed.')) : update(data);
    const error = await failure(processJob(env, job, token));
    expect(error.message).toBe('Connection is closed.');
    expect(creates(handle.emulator).sent).toBe(1);
    expect(requestsTo(handle.emulator, 'POST', /\/cancel$/)).toEqual([]);
  });
});

describe('the shared rate limit', () => {
  test("a create past the token's budget delays the job, sends nothing and reports no output", async () => {
    const { env, queue, take } = await queued(
      { input: inputFor('deferred create') },
      { budget: { createsPerMinute: 1, othersPerMinute: 3000 } },
    );
    // Another worker used this minute's one create (its window opens now: a slow machine cannot outlast it).
    await env.budget.pacer(TOKEN).turn('create', new AbortController().signal);
    const { job, token } = await take();
    const asked = Date.now();
    const error = await failure(processJob(env, job, token));
    expect(error).toBeInstanceOf(DelayedError);
    const now = await stored(queue, job.id!);
    expect(await queue.getJobState(job.id!)).toBe('delayed');
    expect(now.timestamp + now.delay).toBeGreaterThan(asked);
    expect(now.data).toEqual({ ...job.data, creating: undefined });
    expect(now.progress).toBe(0); // no output reported: the run goes on when the job is taken again
    expect(creates(handle.emulator).sent).toBe(0);
  });

  test('a budget that cannot be read fails the job for a retry, and sends nothing', async () => {
    const offline = new Redis({
      path: `${server.path}.missing`,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    try {
      const { env, take } = await queued({ input: inputFor('budget offline') }, { budgetRedis: offline });
      const { job, token } = await take();
      const error = await failure(processJob(env, job, token));
      expect(error).not.toBeInstanceOf(UnrecoverableError);
      expect(error).not.toBeInstanceOf(DelayedError);
      expect(handle.emulator.requests).toEqual([]);
    } finally {
      offline.disconnect();
    }
  });
});

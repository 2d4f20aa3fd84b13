import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { startRedis, type TestRedis } from '../../tools/bench/redis-server.js';
import { registry, ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { redisConnection } from '../../hosts/workers/connection.js';
import { createJobQueue } from '../../hosts/workers/queue.js';
import { startWorker } from '../../hosts/workers/worker.js';
import { CREDENTIALS, ROOT, TOKEN } from '../helpers.js';

// A worker with no token and no base URL runs on its own embedded emulator; a submitter with no
// token either, on the same machine, saves the images from it (a loopback origin the worker names
// with its outputs) and prints every line as in-process.

const BIN = join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js');
/** Generous bounds for a slow machine: the worker's start, and one CLI run. */
const READY_WITHIN_MS = 30_000;
const RUN_WITHIN_MS = 60_000;

let redisStarting: Promise<TestRedis> | undefined;
let redis: TestRedis;
let worker: ChildProcess | undefined;
let workerLog = '';
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-embedded-'));
  redisStarting = startRedis();
  redis = await redisStarting;
  // Only PATH: no REPLICATE_API_TOKEN, no REPLICATE_BASE_URL, so the worker starts its embedded emulator.
  worker = spawn(process.execPath, [BIN, 'worker', '--redis', redis.url, '--out', join(dir, 'worker-out')], {
    env: { PATH: process.env.PATH ?? '' },
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const child = worker;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the worker was not ready within ${READY_WITHIN_MS} ms:\n${workerLog}`)),
      READY_WITHIN_MS,
    );
    child.stderr!.on('data', (chunk) => {
      workerLog += chunk;
      if (/Worker \d+ ready/.test(workerLog)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited (${code ?? signal}) before it was ready:\n${workerLog}`));
    });
  });
}, READY_WITHIN_MS + 20_000);
// Registered before anything starts: whatever beforeAll got to is stopped, even when it failed.
afterAll(async () => {
  if (worker && worker.exitCode === null && worker.signalCode === null) {
    const exited = once(worker, 'exit');
    worker.kill('SIGTERM');
    const kill = setTimeout(() => worker!.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(kill);
  }
  await redisStarting?.then(
    (started) => started.stop(),
    () => undefined,
  );
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

const running = new Set<ChildProcessWithoutNullStreams>();
// A CLI run whose test timed out is killed before the worker and Redis stop.
afterAll(async () => {
  await Promise.all(
    [...running].map(async (child) => {
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      await closed;
    }),
  );
});

/** Runs the built CLI with only PATH set (no token) in the test directory; a run past its deadline is killed. */
async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '' }, cwd: dir });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_WITHIN_MS);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  running.delete(child);
  return { code, stdout, stderr };
}

/** stdout's JSON lines. */
const linesOf = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { node?: string; output: string; value: unknown });

test(
  "run --redis without a token saves the image from the worker's embedded emulator",
  async () => {
    const out = join(dir, 'run-out');
    const { code, stdout, stderr } = await cli([
      'run',
      block.name,
      '--input',
      '{"prompt":"a red fox","seed":7}',
      '--redis',
      redis.url,
      '--out',
      out,
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const [file] = await readdir(out);
    expect(linesOf(stdout)).toEqual([
      { output: 'result', value: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.webp$/) },
      { output: 'file', value: join(out, file!) },
      { output: 'seed', value: 7 },
    ]);
    const metadata = await sharp(await readFile(join(out, file!))).metadata();
    expect(metadata.format).toBe('webp');
  },
  RUN_WITHIN_MS + 10_000,
);

test(
  'run-graph --redis without a token: every line names its node, the images are saved, exit 0',
  async () => {
    const out = join(dir, 'graph-out');
    const { code, stdout, stderr } = await cli([
      'run-graph',
      join(ROOT, 'examples', 'generate-edit-save.json'),
      '--redis',
      redis.url,
      '--out',
      out,
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const lines = linesOf(stdout);
    for (const line of lines)
      expect(line).toEqual({ node: expect.any(String), output: expect.any(String), value: expect.anything() });
    expect(lines.filter((line) => line.output === 'error')).toEqual([]);
    const files = lines.filter((line) => line.output === 'file');
    expect(files.map((line) => line.node).sort()).toEqual(['edit', 'generate']);
    expect((await readdir(out)).sort()).toEqual(files.map((line) => String(line.value).slice(out.length + 1)).sort());
    // The save node ran on the worker, into its --out.
    const saved = lines.find((line) => line.node === 'save' && line.output === 'path');
    expect(saved?.value).toEqual(expect.stringMatching(/\.png$/));
  },
  RUN_WITHIN_MS + 10_000,
);

test(
  'a submitter trusts only a loopback emulator origin named by a worker on its own machine',
  async () => {
    // In-process workers on their own queues, on an emulator with a token, naming made-up origins.
    const emulator: Emulator = await startEmulator({ token: TOKEN, startingMs: 10, processingMs: 20 });
    const connection = redisConnection(redis.url);
    const opened: Array<{ close(): Promise<void> }> = [];
    try {
      const trusted = async (queue: string, emulatorOrigin: string) => {
        const context = { credentials: { apiKey: TOKEN }, runner: { baseUrl: emulator.url } };
        opened.push(await startWorker({ connection, registry, context, queue, emulatorOrigin, concurrency: 1 }));
        const jobs = await createJobQueue({ connection, queue });
        opened.push(jobs);
        const outputs: string[] = [];
        for await (const [output] of jobs.runBlock(block, { credentials: CREDENTIALS, prompt: 'a fox', seed: 1 }))
          outputs.push(output);
        expect(outputs).toEqual(['result', 'seed']);
        return [...jobs.localEmulators];
      };
      expect(await trusted('origin-loopback', 'http://127.0.0.1:4321')).toEqual(['http://127.0.0.1:4321']);
      expect(await trusted('origin-ipv6-loopback', 'http://[::1]:4321')).toEqual(['http://[::1]:4321']);
      expect(await trusted('origin-private', 'http://192.168.1.20:4321')).toEqual([]);
      expect(await trusted('origin-name', 'http://localhost:4321')).toEqual([]);
      expect(await trusted('origin-path', 'http://127.0.0.1:4321/v1')).toEqual([]);
    } finally {
      for (const handle of opened.reverse()) await handle.close();
      await emulator.close();
    }
  },
  RUN_WITHIN_MS,
);

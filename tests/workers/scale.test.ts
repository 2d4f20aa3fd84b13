import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { registry, ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { runGraph, type GraphOutput } from '../../shared/graph/run-graph.js';
import { redisConnection } from '../../hosts/workers/connection.js';
import { createJobQueue, type JobQueue } from '../../hosts/workers/queue.js';
import { creates, CREDENTIALS, own, ROOT, TOKEN } from '../helpers.js';
import { cli as spawnCli } from '../cli/cli-process.js';
import { spawnWorker } from './processes.js';
import { startRedis, type TestRedis } from '../../tools/bench/redis-server.js';

// A budget that binds within a test: 2400 creates a minute (40/s) on the emulator as on the
// workers (80 per 2 s window), bursts of 100 on the emulator. 300 runs of 50 ms predictions
// then take about 7 s.
const CREATES_PER_MINUTE = 2400;
const CREATE_BURST = 100;
const RUNS = Number(process.env.RUNS ?? 300);

const local = {} as { redis: TestRedis };
let emulator: Emulator;
let jobs: JobQueue;
let outDir: string;
beforeAll(async () => {
  local.redis = await own(startRedis(), (started) => started.stop());
  emulator = await own(
    startEmulator({
      token: TOKEN,
      startingMs: 10,
      processingMs: 40,
      maxRecorded: 10_000,
      rateLimits: { createsPerMinute: CREATES_PER_MINUTE, createBurst: CREATE_BURST, othersPerMinute: 30_000 },
    }),
    (started) => started.close(),
  );
  outDir = await own(mkdtemp(join(tmpdir(), 'flux-workers-')), (dir) => rm(dir, { recursive: true, force: true }));
  const flags = [
    '--concurrency',
    '20',
    '--creates-per-minute',
    String(CREATES_PER_MINUTE),
    '--others-per-minute',
    '30000',
    '--out',
    join(outDir, 'worker-out'),
  ];
  await Promise.all([
    spawnWorker(local.redis.url, emulator.url, flags),
    spawnWorker(local.redis.url, emulator.url, flags),
  ]);
  jobs = await own(createJobQueue({ connection: redisConnection(local.redis.url) }), (started) => started.close());
});

/** Runs a block through the queue and collects its outputs. */
async function collectJob(input: unknown): Promise<Array<readonly [string, unknown]>> {
  const outputs: Array<readonly [string, unknown]> = [];
  for await (const output of jobs.runBlock(block, input)) outputs.push(output);
  return outputs;
}

/** Creation times (epoch ms) of every prediction on the emulator, read through its list API. */
async function createdTimes(): Promise<number[]> {
  const times: number[] = [];
  let url: string | null = `${emulator.url}/predictions`;
  while (url) {
    const page = (await (await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } })).json()) as {
      results: Array<{ created_at: string }>;
      next: string | null;
    };
    times.push(...page.results.map((p) => Date.parse(p.created_at)));
    url = page.next;
  }
  return times.sort((a, b) => a - b);
}

test(`${RUNS} block runs on two worker processes all succeed, with exactly ${RUNS} creates, paced within the limit`, async () => {
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: RUNS }, (_, i) =>
      collectJob({ credentials: CREDENTIALS, prompt: `lighthouse ${i}`, seed: i }),
    ),
  );
  const elapsed = Date.now() - started;
  results.forEach((outputs, i) => {
    expect(outputs).toEqual([
      ['result', expect.stringMatching(/\/files\/[a-z2-7]+\/out-0\.webp$/)],
      ['seed', i],
    ]);
  });
  expect(creates(emulator)).toEqual({ sent: RUNS, created: RUNS });
  expect(emulator.throttled).toBe(0);
  // Both processes took jobs.
  const ids = new Set(results.map((outputs) => String(outputs[0]![1])));
  expect(ids.size).toBe(RUNS);
  // The emulator's token bucket allows at most burst + rate x span in any span: check every
  // span between two creates, and that the pace (not the workers' speed) set the duration.
  const times = await createdTimes();
  expect(times).toHaveLength(RUNS);
  for (let i = 0; i < times.length; i += 1) {
    for (let j = i; j < times.length; j += 1) {
      expect(j - i + 1).toBeLessThanOrEqual(CREATE_BURST + ((times[j]! - times[i]!) * CREATES_PER_MINUTE) / 60_000 + 1);
    }
  }
  expect(elapsed).toBeGreaterThan(((RUNS - 2 * CREATE_BURST) / CREATES_PER_MINUTE) * 60_000);
});

test('no key or value in Redis contains the token', async () => {
  const redis = new Redis(redisConnection(local.redis.url));
  try {
    const keys = await redis.keys('*');
    expect(keys.length).toBeGreaterThan(5);
    let dumped = '';
    for (const key of keys) {
      const type = await redis.type(key);
      const value =
        type === 'string'
          ? await redis.get(key)
          : type === 'hash'
            ? await redis.hgetall(key)
            : type === 'list'
              ? await redis.lrange(key, '0', '-1')
              : type === 'set'
                ? await redis.smembers(key)
                : type === 'zset'
                  ? await redis.zrange(key, '0', '-1')
                  : type === 'stream'
                    ? await redis.xrange(key, '-', '+')
                    : type;
      dumped += `${key}\n${JSON.stringify(value)}\n`;
    }
    expect(dumped).toContain('lighthouse 1');
    expect(dumped).toContain('test-credentials');
    // Not with expect(dumped).not.toContain: its failure message would print it all.
    expect(dumped.includes(TOKEN)).toBe(false);
    expect(dumped.includes(TOKEN.slice(0, 20))).toBe(false);
  } finally {
    redis.disconnect();
  }
});

describe('graphs through the queue', () => {
  /** Outputs with prediction ids and file names replaced, sorted: parallel save runs finish in any order. */
  const normalized = (outputs: GraphOutput[]) =>
    outputs
      .map(({ node, output, value }) =>
        JSON.stringify({
          node,
          output,
          value:
            output === 'seed'
              ? 'SEED'
              : String(value)
                  .replace(/\/files\/[a-z2-7]+\//, '/files/ID/')
                  .replace(/^.*\/([0-9a-f]{16})\./, 'FILE.'),
        }),
      )
      .sort();

  test.each(['generate-edit-save.json', 'generate-four-save-each.json'])(
    '%s gives the same outputs as in-process',
    async (name) => {
      const graph: unknown = JSON.parse(await readFile(join(ROOT, 'examples', name), 'utf8'));
      const context = {
        credentials: { apiKey: TOKEN },
        runner: { baseUrl: emulator.url },
        save: { dir: join(outDir, 'local'), allowedOrigins: [new URL(emulator.url).origin] },
      };
      const inProcess = await runGraph(graph, { registry, context });
      const queued = await jobs.runGraph(graph, { registry });
      expect(inProcess.failures).toEqual([]);
      expect(queued.failures).toEqual([]);
      expect(normalized(queued.outputs)).toEqual(normalized(inProcess.outputs));
      expect(queued.outputs.filter((o) => o.output === 'path')).toHaveLength(name.includes('four') ? 4 : 1);
    },
  );
});

test('the CLI: run --redis prints the same JSON lines as in-process, exit 0; worker without --redis is a usage error', async () => {
  const cli = (args: string[], env: Record<string, string>) => spawnCli(args, { env, cwd: outDir });
  const input = JSON.stringify({ prompt: 'a red fox', seed: 5 });
  // The submitter has no token: the worker's is used.
  const queued = await cli(['run', block.name, '--input', input, '--redis', local.redis.url], {
    REPLICATE_BASE_URL: emulator.url,
  });
  const direct = await cli(['run', block.name, '--input', input], {
    REPLICATE_BASE_URL: emulator.url,
    REPLICATE_API_TOKEN: TOKEN,
  });
  expect(queued.code).toBe(0);
  const strip = (stdout: string) => stdout.replace(/\/files\/[a-z2-7]+\//g, '/files/ID/');
  expect(strip(queued.stdout)).toBe(strip(direct.stdout));
  expect(queued.stdout).toMatch(/^\{"output":"result","value":"http:.*\n\{"output":"seed","value":5\}\n$/);
  expect(queued.stderr).toMatch(/prediction [a-z2-7]+: succeeded/);
  const unreachable = await cli(['run', block.name, '--input', input, '--redis', 'unix:///nonexistent/redis.sock'], {
    REPLICATE_BASE_URL: emulator.url,
  });
  expect(unreachable.code).toBe(1);
  expect(unreachable.stderr).toContain('redis: cannot connect (connect ENOENT /nonexistent/redis.sock)');
  const usage = await cli(['worker'], {});
  expect(usage.code).toBe(2);
  expect(usage.stderr).toContain('worker needs --redis URL (or REDIS_URL)');
});

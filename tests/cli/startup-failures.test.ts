import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { ROOT } from '../helpers.js';

// A command that cannot start must end, with one line saying why, also when it started the
// embedded emulator (no REPLICATE_API_TOKEN, no base URL), whose server would keep it alive.

const BIN = join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js');
/** How long a failed start may take before the test calls it a hang (it takes about a second). */
const EXIT_WITHIN_MS = 20_000;
/** Each test's own timeout: the deadline above, plus room to kill a hung child. */
const TEST_TIMEOUT_MS = EXIT_WITHIN_MS + 10_000;

let dir: string;
let busy: Server;
/** A port on 127.0.0.1 this file holds, so nothing else can listen on it. */
let busyPort: number;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-startup-'));
  busy = createServer();
  busy.listen(0, '127.0.0.1');
  await once(busy, 'listening');
  busyPort = (busy.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => busy?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const running = new Set<ChildProcessWithoutNullStreams>();
// A child that outlived its deadline (or its test) is killed: nothing outlives the file.
afterEach(async () => {
  await Promise.all(
    [...running].map(async (child) => {
      const closed = once(child, 'close');
      child.kill('SIGKILL');
      await closed;
    }),
  );
  running.clear();
});

interface Ended {
  /** The exit code; null when it was still running at the deadline (and was killed). */
  readonly code: number | null;
  readonly stderr: string;
  /** stderr's lines that are not empty. */
  readonly lines: string[];
  readonly stdout: string;
}

/**
 * Runs the built CLI in a temporary directory with only PATH set (so the embedded emulator
 * starts), and `env`, and waits for it to exit, at most {@link EXIT_WITHIN_MS}.
 */
async function start(args: string[], env: Record<string, string> = {}): Promise<Ended> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: dir });
  running.add(child);
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdout.on('data', (chunk) => (stdout += chunk));
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    once(child, 'close').then(([exitCode]) => exitCode as number | null),
    new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), EXIT_WITHIN_MS))),
  ]);
  clearTimeout(timer);
  if (code !== null) running.delete(child);
  return { code, stderr, stdout, lines: stderr.split('\n').filter(Boolean) };
}

/** The process ended by itself, its error one line of its own, with no stack trace and nothing left open. */
function expectCleanFailure(ended: Ended, code: number, message: string | RegExp): void {
  if (ended.code === null)
    throw new Error(`still running after ${EXIT_WITHIN_MS} ms (killed); its stderr:\n${ended.stderr}`);
  expect(ended.code).toBe(code);
  expect(ended.lines.filter((line) => line.startsWith('flux-blocks'))[0]).toEqual(
    typeof message === 'string' ? message : expect.stringMatching(message),
  );
  expect(ended.stderr).not.toMatch(/^\s+at /m);
  expect(ended.stderr).not.toContain('something was left open');
}

describe('worker', () => {
  test(
    'an unreachable Redis: exit 1 naming the URL without its password, before the emulator starts',
    async () => {
      const ended = await start(['worker', '--redis', 'redis://fluxuser:hunter2@127.0.0.1:1']);
      expectCleanFailure(
        ended,
        1,
        'flux-blocks: redis: cannot connect (connect ECONNREFUSED 127.0.0.1:1) to redis://127.0.0.1:1',
      );
      expect(ended.stderr).not.toContain('hunter2');
      expect(ended.lines).toHaveLength(1);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a unix socket that does not exist: exit 1',
    async () => {
      const socket = join(dir, 'missing', 'redis.sock');
      const ended = await start(['worker', '--redis', `unix://${socket}`]);
      expectCleanFailure(ended, 1, `flux-blocks: redis: cannot connect (connect ENOENT ${socket}) to unix://${socket}`);
      expect(ended.lines).toHaveLength(1);
    },
    TEST_TIMEOUT_MS,
  );

  test.each([
    [['--concurrency', '0'], '--concurrency takes a positive whole number'],
    [['--timeout-ms', '0'], '--timeout-ms takes a positive whole number'],
    [['--creates-per-minute', 'many'], '--creates-per-minute takes a positive whole number'],
  ])(
    '%j: a usage error, exit 2, and no emulator started',
    async (flags, message) => {
      const ended = await start(['worker', '--redis', 'redis://127.0.0.1:1', ...flags]);
      expectCleanFailure(ended, 2, `flux-blocks: ${message}`);
      expect(ended.lines).toEqual([`flux-blocks: ${message}`, 'Run flux-blocks worker --help for usage.']);
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'a --redis that is not a URL is a usage error too',
    async () => {
      const ended = await start(['worker', '--redis', 'nothing']);
      expectCleanFailure(ended, 2, /^flux-blocks: redis: not a URL/);
      expect(ended.stderr).not.toContain('embedded emulator');
    },
    TEST_TIMEOUT_MS,
  );
});

test(
  'studio on a port in use: exit 1 once the embedded emulator it started is closed',
  async () => {
    const ended = await start(['studio', '--port', String(busyPort), '--out', join(dir, 'studio-out')]);
    expectCleanFailure(ended, 1, `flux-blocks: cannot listen on 127.0.0.1:${busyPort}: the port is already in use`);
  },
  TEST_TIMEOUT_MS,
);

describe('mcp --http', () => {
  test(
    'on a port in use: exit 1 once the embedded emulator it started is closed',
    async () => {
      const ended = await start(['mcp', '--http', '--port', String(busyPort), '--out', join(dir, 'mcp-out')]);
      expectCleanFailure(ended, 1, `flux-blocks: cannot listen on 127.0.0.1:${busyPort}: the port is already in use`);
      expect(ended.stderr).toContain('using the embedded emulator at http://127.0.0.1:');
    },
    TEST_TIMEOUT_MS,
  );

  test(
    'off loopback without a token: a usage error, exit 2, before the emulator starts',
    async () => {
      const ended = await start(['mcp', '--http', '--host', '0.0.0.0', '--port', '0']);
      expectCleanFailure(
        ended,
        2,
        'flux-blocks: Binding to 0.0.0.0, not a loopback address, needs a bearer token: pass --auth-token or set MCP_AUTH_TOKEN',
      );
      expect(ended.stderr).not.toContain('embedded emulator');
    },
    TEST_TIMEOUT_MS,
  );
});

describe('a base URL with a user name and password: a usage error, exit 2, the password printed nowhere', () => {
  const RUN = ['run', 'ReplicateFluxAdvancedModelBlock', '--input', '{"prompt":"x"}'];
  test.each<[string, string[], Record<string, string>, RegExp]>([
    [
      'run --base-url',
      [...RUN, '--base-url', 'http://user:secret@127.0.0.1:1/v1'],
      {},
      /^flux-blocks: --base-url must not hold a user name or password .*, not "http:\/\/\*\*\*@127\.0\.0\.1:1\/v1"$/,
    ],
    [
      'mcp --base-url',
      ['mcp', '--base-url=http://user:secret@127.0.0.1:1/v1'],
      {},
      /^flux-blocks: --base-url must not hold a user name or password/,
    ],
    [
      'run with REPLICATE_BASE_URL',
      RUN,
      { REPLICATE_BASE_URL: 'http://user:secret@127.0.0.1:1/v1', REPLICATE_API_TOKEN: 'r8_unused' },
      /^flux-blocks: REPLICATE_BASE_URL must not hold a user name or password/,
    ],
    [
      'mcp with REPLICATE_BASE_URL',
      ['mcp'],
      { REPLICATE_BASE_URL: 'https://user:secret@proxy.example/v1' },
      /^flux-blocks: REPLICATE_BASE_URL must not hold a user name or password/,
    ],
    [
      'studio with OPENAI_COMPATIBLE_ORIGINS',
      ['studio', '--port', '0', '--out', 'studio-out'],
      { OPENAI_COMPATIBLE_ORIGINS: 'https://user:secret@api.aggregator.example' },
      /^flux-blocks: OPENAI_COMPATIBLE_ORIGINS: each entry must not hold a user name or password/,
    ],
    [
      'run --openai-compatible-origins',
      [...RUN, '--openai-compatible-origins', 'https://user:secret@api.aggregator.example'],
      {},
      /^flux-blocks: --openai-compatible-origins: each entry must not hold a user name or password/,
    ],
  ])(
    '%s',
    async (_, args, env, message) => {
      const ended = await start(args, env);
      expectCleanFailure(ended, 2, message);
      expect(ended.stderr + ended.stdout).not.toContain('secret');
      expect(ended.stderr).not.toContain('embedded emulator');
    },
    TEST_TIMEOUT_MS,
  );
});

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const INSTALL = 'apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y redis-server';

/** A private redis-server on a unix socket, nothing persisted: for the worker tests and bench:scale. */
export interface TestRedis {
  /** `unix://<tmp>/redis.sock`, for `--redis` and `redisConnection`. */
  readonly url: string;
  /** The socket's path, for ioredis `{ path }`. */
  readonly path: string;
  stop(): Promise<void>;
}

/**
 * Installs redis-server when it is missing and this process may (root with apt-get), printing
 * what it does; otherwise throws with the exact command to run. Never skips.
 */
function ensureRedisServer(): void {
  if (spawnSync('redis-server', ['--version']).status === 0) return;
  const root = process.getuid?.() === 0;
  if (!root || spawnSync('apt-get', ['--version']).status !== 0) {
    throw new Error(`redis-server is not installed; the worker tests need it. Install it with: sudo sh -c '${INSTALL}'`);
  }
  console.log(`redis-server is missing: installing it with: ${INSTALL}`);
  execFileSync('sh', ['-c', INSTALL], { stdio: 'inherit' });
}

/** Starts `redis-server --port 0 --unixsocket <tmp>/redis.sock --save '' --appendonly no`; resolves once it answers PING. */
export async function startRedis(): Promise<TestRedis> {
  ensureRedisServer();
  const dir = await mkdtemp(join(tmpdir(), 'flux-redis-'));
  const path = join(dir, 'redis.sock');
  const child: ChildProcess = spawn('redis-server', ['--port', '0', '--unixsocket', path, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (chunk) => (log += chunk));
  child.stderr!.on('data', (chunk) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(existsSync(path) && (await pong(path)))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${log}`);
    await sleep(5);
  }
  return {
    url: `unix://${path}`,
    path,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function pong(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path, () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(String(data).startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
  });
}

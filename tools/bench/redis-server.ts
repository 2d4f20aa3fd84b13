import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const INSTALL = "sudo sh -c 'apt-get update && apt-get install -y redis-server'";

/** A private redis-server on a unix socket, nothing persisted: for the worker tests and bench:scale. */
export interface TestRedis {
  /** `unix://<tmp>/redis.sock`, for `--redis` and `redisConnection`. */
  readonly url: string;
  /** The socket's path, for ioredis `{ path }`. */
  readonly path: string;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server --port 0 --unixsocket <tmp>/redis.sock --save '' --appendonly no`; resolves once
 * it answers PING. The test suite's global setup installs redis-server; here a missing one is an error
 * naming the command to run. A server that does not answer within `deadlineMs` (default 10 s) is stopped
 * before the error is thrown, so a failed start leaves nothing running.
 * @throws {Error} when redis-server is missing, exits, or does not answer in time.
 */
export async function startRedis(deadlineMs = 10_000): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-redis-'));
  const path = join(dir, 'redis.sock');
  const child: ChildProcess = spawn(
    'redis-server',
    [
      '--port',
      '0',
      '--unixsocket',
      path,
      '--unixsocketperm',
      '700',
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stdout!.on('data', (chunk) => (log += chunk));
  child.stderr!.on('data', (chunk) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let missing = false;
  child.once('error', (error: NodeJS.ErrnoException) => (missing = error.code === 'ENOENT'));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && !missing) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + deadlineMs;
  while (!(existsSync(path) && (await pong(path)))) {
    const failure = missing
      ? `redis-server is not installed; install it with: ${INSTALL}`
      : child.exitCode !== null
        ? `redis-server exited (${child.exitCode})`
        : Date.now() > deadline
          ? `redis-server did not answer within ${deadlineMs} ms`
          : undefined;
    if (failure) {
      await stop();
      throw new Error(`${failure}\n${log}`);
    }
    await sleep(5);
  }
  return { url: `unix://${path}`, path, stop };
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

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, TOKEN } from '../helpers.js';

/** The built CLI. */
export const BIN = join(ROOT, 'dist', 'bin', 'flux-blocks.js');

/** A `flux-blocks worker` process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** Resolves with the exit code or signal once it exited. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
}

/**
 * Spawns `node dist/bin/flux-blocks.js worker --redis <redisUrl> --base-url <baseUrl> ...args`
 * with REPLICATE_API_TOKEN set to {@link TOKEN}; resolves once it says it is ready.
 */
export async function spawnWorker(redisUrl: string, baseUrl: string, args: string[] = [], cwd = ROOT): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--redis', redisUrl, '--base-url', baseUrl, ...args], {
    env: { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: TOKEN },
    cwd,
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      if (/Worker \d+ ready/.test(stderr)) resolve();
    });
    void exited.then((how) => reject(new Error(`the worker exited (${how}) before it was ready:\n${stderr}`)));
  });
  return { child, stderr: () => stderr, exited };
}

/** Stops workers with SIGTERM and waits for them to exit. */
export async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  for (const worker of workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
  await Promise.all(workers.map((worker) => worker.exited));
}

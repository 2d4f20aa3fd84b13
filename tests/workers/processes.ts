import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { own, ROOT, scaled, TOKEN } from '../helpers.js';

/** The built CLI. */
export const BIN = join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js');

/** A `flux-blocks worker` process. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** Resolves with the exit code or signal once it exited. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
}

/**
 * Spawns `node hosts/dist/cli/flux-blocks.js worker --redis <redisUrl> --base-url <baseUrl> ...args`
 * with REPLICATE_API_TOKEN set to {@link TOKEN}; resolves once it says it is ready. The test file owns
 * it from the start (stopped after all its tests at the latest); one that is not ready within 30 s
 * (scaled) is killed and the promise rejects.
 */
export function spawnWorker(
  redisUrl: string,
  baseUrl: string,
  args: string[] = [],
  cwd = ROOT,
): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--redis', redisUrl, '--base-url', baseUrl, ...args], {
    env: { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: TOKEN },
    cwd,
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  const worker: WorkerProcess = { child, stderr: () => stderr, exited };
  const ready = new Promise<WorkerProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the worker was not ready within ${scaled(30_000)} ms:\n${stderr}`));
    }, scaled(30_000));
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      if (/Worker \d+ ready/.test(stderr)) {
        clearTimeout(timer);
        resolve(worker);
      }
    });
    void exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited (${how}) before it was ready:\n${stderr}`));
    });
  });
  void own(Promise.resolve(worker), (started) => stopWorkers([started]));
  return ready;
}

/** Stops workers with SIGTERM and waits for them to exit. */
export async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  for (const worker of workers)
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
  await Promise.all(workers.map((worker) => worker.exited));
}

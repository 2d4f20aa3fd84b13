import type { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, spawnOwned } from '../helpers.js';

export const BIN = join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout's `{"output": ...}` lines, parsed. */
  lines: Array<{ output: string; value: unknown }>;
}

/**
 * Spawns the built CLI in `cwd` with only PATH and the given variables; `stdin` is written to
 * its standard input; `onStart` sees the child. The test file owns the process: one still running
 * after all its tests (a test that timed out) is killed.
 */
export function cli(
  args: string[],
  {
    env = {},
    cwd,
    stdin,
    onStart,
  }: { env?: Record<string, string>; cwd: string; stdin?: string; onStart?: (child: ReturnType<typeof spawn>) => void },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawnOwned(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout
        .split('\n')
        .filter((line) => line.startsWith('{"output":'))
        .map((line) => JSON.parse(line) as Run['lines'][number]);
      resolve({ code, stdout, stderr, lines });
    });
    child.stdin.end(stdin);
    onStart?.(child);
  });
}

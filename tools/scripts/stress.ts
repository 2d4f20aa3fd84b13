// npm run test:stress [-- --runs N] [--clone]: the whole suite N times (default 3) beside a CPU-bound
// process on one core, as on a user's machine or a shared CI runner; prints each run's result and time.
// --clone runs it in a fresh clone of HEAD (after `npm ci` there, timed too), as a new user would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, clone: { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('test:stress: --runs takes a whole number of at least 1');
  process.exit(2);
}

/** Runs `command` in `cwd` with inherited output; resolves with its exit code and wall time in s. */
function timed(command: string, args: string[], cwd: string): Promise<{ code: number | null; seconds: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    spawn(command, args, { cwd, stdio: 'inherit' }).once('close', (code) =>
      resolve({ code, seconds: Math.round((performance.now() - started) / 1000) }),
    );
  });
}

// One core kept busy for the whole stress run: a tight loop in its own process.
const burner: ChildProcess = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
const stopBurner = () => burner.kill('SIGKILL');
process.once('exit', stopBurner);
process.once('SIGINT', () => process.exit(130));

let cwd = process.cwd();
let clone: string | undefined;
const lines: string[] = [];
try {
  if (values.clone) {
    clone = await mkdtemp(join(tmpdir(), 'flux-blocks-stress-'));
    const cloned = spawnSync('git', ['clone', '--quiet', '--no-local', cwd, clone], { stdio: 'inherit' });
    if (cloned.status !== 0) throw new Error('git clone failed');
    cwd = clone;
    const install = await timed('npm', ['ci', '--no-audit', '--no-fund'], cwd);
    lines.push(`npm ci in a fresh clone: exit ${install.code}, ${install.seconds} s`);
    if (install.code !== 0) throw new Error(lines.at(-1));
  }
  for (let i = 1; i <= runs; i++) {
    const run = await timed('npm', ['test'], cwd);
    lines.push(`run ${i} of ${runs}: ${run.code === 0 ? 'passed' : `FAILED (exit ${run.code})`}, ${run.seconds} s`);
    console.log(`\n== test:stress ${lines.at(-1)}\n`);
  }
} finally {
  stopBurner();
  if (clone) await rm(clone, { recursive: true, force: true });
}
console.log(
  `\ntest:stress, beside a CPU-bound process on one core (${new Date().toISOString()}):\n${lines.map((line) => `  ${line}`).join('\n')}`,
);
process.exitCode = lines.every((line) => !/FAILED|exit [1-9]/.test(line)) ? 0 : 1;

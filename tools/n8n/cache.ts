import { spawn, type SpawnOptions } from 'node:child_process';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The folder n8n tooling is installed into once: `$FLUX_BLOCKS_CACHE` or `~/.cache/flux-blocks`. */
export const CACHE_DIR = process.env.FLUX_BLOCKS_CACHE || join(homedir(), '.cache', 'flux-blocks');

/** Written after a successful install only: a folder without it is (re)installed. */
const MARKER = '.flux-blocks-installed';

/**
 * Runs `command` with `args`, its output passed through; resolves with the exit code (signals
 * count as 1). @throws when the command cannot start.
 */
export function run(command: string, args: readonly string[], options: SpawnOptions = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/**
 * Installs `dependencies` (exact versions) into `CACHE_DIR/<name>` with npm, once: the folder
 * counts as ready only when it holds the marker this function writes after npm succeeded, so an
 * install cut short is redone. Prints what it does. `npmArgs` are extra npm flags (e.g.
 * `--ignore-scripts`); `overrides` goes into the folder's package.json as npm overrides.
 * @returns the folder. @throws with npm's exit code when the install fails.
 */
export async function installOnce(
  name: string,
  dependencies: Record<string, string>,
  { npmArgs = [], overrides }: { npmArgs?: readonly string[]; overrides?: Record<string, string> } = {},
): Promise<string> {
  const dir = join(CACHE_DIR, name);
  const marker = join(dir, MARKER);
  if (
    await access(marker).then(
      () => true,
      () => false,
    )
  ) {
    console.log(`Using ${Object.keys(dependencies).join(', ')} from ${dir}`);
    return dir;
  }
  console.log(
    `Installing ${Object.entries(dependencies)
      .map(([n, v]) => `${n}@${v}`)
      .join(', ')} into ${dir} (once; later runs reuse it)`,
  );
  // A folder without the marker holds an install cut short: start afresh (npm 11 can fail with
  // "Invalid Version" when it installs over a partial tree).
  await rm(join(dir, 'node_modules'), { recursive: true, force: true });
  await rm(join(dir, 'package-lock.json'), { force: true });
  await mkdir(dir, { recursive: true });
  const manifest = { name: `flux-blocks-${name}`, private: true, dependencies, ...(overrides ? { overrides } : {}) };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const args = ['install', '--no-audit', '--no-fund', ...npmArgs];
  console.log(`$ (cd ${dir} && npm ${args.join(' ')})`);
  const started = Date.now();
  const code = await run('npm', args, { cwd: dir });
  if (code !== 0) throw new Error(`npm install in ${dir} failed (exit ${code}); see its output above, then run again`);
  await writeFile(marker, `${new Date().toISOString()}\n`);
  console.log(`Installed in ${Math.round((Date.now() - started) / 1000)} s`);
  return dir;
}

// Runs `npm run build` only when a source is newer than the build, so `npm run demo` starts at
// once on a current build. Plain JavaScript: it runs before anything is built.
// Usage: node tools/build-if-stale.mjs [--check] [--root DIR]
//   --check: build nothing; exit 0 when the build is current, 1 when it is stale or missing.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? resolve(args[rootAt + 1] ?? '.') : resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What the build reads: the packages' sources and their TypeScript and package settings. */
const SOURCES = [
  'index.ts',
  'sdk.ts',
  'blocks',
  'shared',
  'emulator',
  'hosts',
  'tools',
  'tsconfig.json',
  'package.json',
];
/** A file per build step (tsc writes every output each time): the oldest is when the build last ended. */
const OUTPUTS = [
  'dist/index.js',
  'emulator/dist/index.js',
  'hosts/dist/cli/flux-blocks.js',
  'hosts/dist/studio/public/main.js',
  'tools/dist/tools/scripts/generate.js',
];
const SKIPPED = new Set(['dist', 'node_modules', 'out']);

/** Newest modification time (ms) under `path`, skipping build output and dependencies; 0 when absent. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs; // a deleted source changes its folder's time
  for (const entry of readdirSync(path)) {
    if (!SKIPPED.has(entry)) latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

function builtAt() {
  try {
    return Math.min(...OUTPUTS.map((file) => statSync(join(root, file)).mtimeMs));
  } catch {
    return -Infinity; // an output is missing
  }
}

const stale = Math.max(...SOURCES.map((source) => newest(join(root, source)))) > builtAt();
if (args.includes('--check')) process.exit(stale ? 1 : 0);
if (stale) {
  const npm = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  process.exit(npm.status ?? 1);
}

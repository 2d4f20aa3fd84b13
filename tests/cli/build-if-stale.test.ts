import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { ROOT } from '../helpers.js';

// `npm run demo` builds only when a source is newer than the build (tools/build-if-stale.mjs),
// checked on a tree of its own: touching this repository's sources would rebuild under other tests.
const SCRIPT = join(ROOT, 'tools', 'build-if-stale.mjs');
const OUTPUTS = [
  'dist/index.js',
  'emulator/dist/index.js',
  'hosts/dist/cli/flux-blocks.js',
  'hosts/dist/studio/public/main.js',
  'tools/dist/tools/scripts/generate.js',
];
const SOURCES = ['index.ts', 'shared/core/errors.ts', 'hosts/cli/flux-blocks.ts', 'hosts/studio/app/main.tsx'];
let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'flux-blocks-stale-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Writes `file` under the tree with the given modification time (s since the epoch). */
async function put(file: string, at: number) {
  await mkdir(dirname(join(root, file)), { recursive: true });
  await writeFile(join(root, file), '');
  await utimes(join(root, file), at, at);
}

/** Sets every folder's time back, as folders change when files are added. */
async function settleFolders(at: number) {
  for (const file of [...SOURCES, ...OUTPUTS]) {
    for (let dir = dirname(file); dir !== '.'; dir = dirname(dir)) await utimes(join(root, dir), at, at);
  }
}

const check = () =>
  promisify(execFile)(process.execPath, [SCRIPT, '--check', '--root', root]).then(
    () => 'current',
    (error: { code?: number }) => (error.code === 1 ? 'stale' : `failed ${String(error.code)}`),
  );

test('npm run demo and npm run studio build only when a source is newer than the build', async () => {
  const scripts = (
    JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  ).scripts;
  expect(scripts.demo).toMatch(/^node tools\/build-if-stale\.mjs && node hosts\/dist\/cli\/flux-blocks\.js demo$/);
  expect(scripts.studio).toMatch(/^node tools\/build-if-stale\.mjs && node hosts\/dist\/cli\/flux-blocks\.js studio$/);

  for (const file of SOURCES) await put(file, 1_000);
  expect(await check()).toBe('stale'); // nothing built yet
  for (const file of OUTPUTS) await put(file, 2_000);
  await settleFolders(1_000);
  expect(await check()).toBe('current');

  await put('shared/core/errors.ts', 3_000); // an edit after the build
  expect(await check()).toBe('stale');
  for (const file of OUTPUTS) await put(file, 4_000);
  expect(await check()).toBe('current');

  await put('hosts/dist/studio/public/main.js', 500); // one step's output older than a source: a build that failed midway
  expect(await check()).toBe('stale');
  await put('hosts/dist/studio/public/main.js', 4_000);
  await rm(join(root, 'tools/dist/tools/scripts/generate.js'));
  expect(await check()).toBe('stale');
});

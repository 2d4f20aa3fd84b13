import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { ROOT } from '../helpers.js';

// The package as a user gets it: `npm pack`, then `npm install <tarball>` into an empty project.
const run = promisify(execFile);
let dir: string;
let files: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-install-'));
  // dist/ is built by `npm test`'s pretest; the tarball takes it as it is.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = packed!.files.map((f) => f.path);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'host', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed!.filename)], {
    cwd: dir,
    maxBuffer: 16 << 20,
  });
}, 240_000);
afterAll(() => rm(dir, { recursive: true, force: true }));

test('the tarball holds what a user runs: no benchmarks, no build scripts, no source maps; a LICENSE', () => {
  expect(files).toEqual(
    expect.arrayContaining([
      'LICENSE',
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/sdk.js',
      'dist/bin/flux-blocks.js',
      'schemas/blocks.json',
      'examples/generate-edit-save.json',
    ]),
  );
  expect(
    files.filter(
      (f) =>
        /^dist\/(bench|scripts|tests)\/|^dist\/studio\/build\.|\.map$|^tests\/|\.ts$/.test(f) && !f.endsWith('.d.ts'),
    ),
  ).toEqual([]);
});

test('a tiny ESM host imports it by name and runs a block on the embedded emulator', async () => {
  await writeFile(
    join(dir, 'host.mjs'),
    `
    import { createRegistry, runBlock } from 'replicate-flux-blocks';
    import { startEmulator } from 'replicate-flux-blocks/emulator';
    const emulator = await startEmulator({ startingMs: 10, processingMs: 20 });
    const block = createRegistry().get('ReplicateFluxAdvancedModelBlock');
    const input = { credentials: { provider: 'replicate', id: 'k', type: 'api_key' }, prompt: 'a red fox', seed: 3 };
    for await (const [name, value] of runBlock(block, input, { credentials: { apiKey: 'any' }, runner: { baseUrl: emulator.url } })) console.log(name, value);
    await emulator.close();
  `,
  );
  const { stdout } = await run(process.execPath, ['host.mjs'], { cwd: dir });
  expect(stdout).toMatch(/^result http:\/\/127\.0\.0\.1:\d+\/files\/\S+\.webp\nseed 3\n$/);
});

test('npx flux-blocks list runs the installed CLI', async () => {
  const { stdout } = await run('npx', ['--no-install', 'flux-blocks', 'list'], { cwd: dir });
  expect(
    stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('\t')[1]),
  ).toContain('ReplicateFluxAdvancedModelBlock');
  expect(await readdir(join(dir, 'node_modules', 'replicate-flux-blocks', 'dist'))).not.toContain('bench');
});

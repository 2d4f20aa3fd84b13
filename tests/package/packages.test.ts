import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { own, ROOT, scaled, TOKEN, useEmulator } from '../helpers.js';

// The five packages as users get them: `npm pack` of the root and its workspaces, then
// `npm install <tarballs>` into empty projects. dist/ is built by `npm test`'s pretest.
const run = promisify(execFile);
const INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund'];
const LIBRARY = 'replicate-flux-blocks';
const EMULATOR = 'replicate-flux-emulator';
const CLI = 'replicate-flux-blocks-cli';
const NODE_RED = 'node-red-contrib-flux-blocks';
const N8N = 'n8n-nodes-flux-blocks';

interface Packed {
  readonly name: string;
  readonly filename: string;
  readonly files: ReadonlyArray<{ path: string }>;
}

let dir: string;
const packed = new Map<string, Packed>();
const tarball = (name: string) => join(dir, packed.get(name)!.filename);
const filesOf = (name: string) => packed.get(name)!.files.map((file) => file.path);

/** An empty ESM project in `dir/<name>`, with `tarballs` installed. */
async function project(name: string, tarballs: string[], flags: string[] = []): Promise<string> {
  const cwd = join(dir, name);
  await mkdir(cwd);
  await writeFile(join(cwd, 'package.json'), JSON.stringify({ name: `host-${name}`, private: true, type: 'module' }));
  await run('npm', [...INSTALL, ...flags, ...tarballs], { cwd, maxBuffer: 16 << 20 });
  return cwd;
}

/** Bytes under `path` (files' sizes, links not followed) and the packages in it (folders with a package.json under node_modules). */
async function footprint(path: string): Promise<{ bytes: number; packages: number }> {
  let bytes = 0;
  let packages = 0;
  for (const entry of await readdir(path, { withFileTypes: true, recursive: true })) {
    const full = join(entry.parentPath, entry.name);
    if (entry.isFile()) bytes += (await stat(full)).size;
    if (entry.name === 'package.json' && /node_modules\/(@[^/]+\/)?[^/@]+$/.test(entry.parentPath)) packages++;
  }
  return { bytes, packages };
}

beforeAll(async () => {
  dir = await own(mkdtemp(join(tmpdir(), 'flux-blocks-packages-')), (made) =>
    rm(made, { recursive: true, force: true }),
  );
  const { stdout } = await run(
    'npm',
    ['pack', '--workspaces', '--include-workspace-root', '--ignore-scripts', '--json', '--pack-destination', dir],
    { cwd: ROOT, maxBuffer: 16 << 20 },
  );
  for (const entry of JSON.parse(stdout) as Packed[]) packed.set(entry.name, entry);
}, scaled(120_000));

test('each tarball holds its own part: the library no hosts or emulator, none of them sources, maps or build scripts', () => {
  expect([...packed.keys()].sort()).toEqual([LIBRARY, CLI, EMULATOR, NODE_RED, N8N].sort());
  expect(filesOf(LIBRARY)).toEqual(
    expect.arrayContaining([
      'LICENSE',
      'package.json',
      'README.md',
      'dist/index.js',
      'dist/sdk.js',
      'dist/blocks/index.js',
      'schemas/blocks.json',
      'examples/generate-edit-save.json',
      'docs/SaveImageBlock.md',
    ]),
  );
  expect(filesOf(LIBRARY).filter((path) => /^(dist\/)?(hosts|emulator|tools|tests)\//.test(path))).toEqual([]);
  expect(filesOf(EMULATOR)).toEqual(
    expect.arrayContaining(['LICENSE', 'package.json', 'dist/index.js', 'dist/index.d.ts']),
  );
  expect(filesOf(CLI)).toEqual(
    expect.arrayContaining([
      'LICENSE',
      'package.json',
      'dist/cli/flux-blocks.js',
      'dist/studio/public/main.js',
      'dist/workers/index.js',
    ]),
  );
  // Only what Node-RED loads: the runtime, the editor page, the generated list, the example flow.
  expect(filesOf(NODE_RED).sort()).toEqual(
    [
      'LICENSE',
      'README.md',
      'package.json',
      'examples/flux-flow.json',
      'nodes/blocks.json',
      'nodes/flux-blocks.html',
      'nodes/flux-blocks.js',
    ].sort(),
  );
  // n8n loads the files its "n8n" field names; the node reads its generated properties and icon beside it.
  expect(filesOf(N8N)).toEqual(
    expect.arrayContaining([
      'LICENSE',
      'package.json',
      'README.md',
      'dist/credentials/FluxBlocksApi.credentials.js',
      'dist/nodes/FluxBlocks/FluxBlocks.node.js',
      'dist/nodes/FluxBlocks/properties.generated.json',
      'dist/nodes/FluxBlocks/fluxBlocks.svg',
      'dist/lib/flux-blocks.mjs',
    ]),
  );
  const stray = [...packed.values()]
    .flatMap((entry) => entry.files.map((file) => file.path))
    .filter((path) => /\.map$|\/build\.js$|(?<!\.d)\.tsx?$/.test(path));
  expect(stray).toEqual([]);
});

describe('the library alone, production dependencies only', () => {
  const handle = useEmulator();
  let cwd: string;
  beforeAll(async () => {
    cwd = await project('library', [tarball(LIBRARY)], ['--omit=dev']);
  }, scaled(240_000));

  test('stays within 15 MB and 25 packages, with no server, queue or image decoder', async () => {
    const { bytes, packages } = await footprint(join(cwd, 'node_modules'));
    expect(bytes).toBeLessThanOrEqual(15_000_000);
    expect(packages).toBeLessThanOrEqual(25);
    const installed = await readdir(join(cwd, 'node_modules'));
    for (const name of ['sharp', 'bullmq', 'ioredis', 'hono', '@modelcontextprotocol', EMULATOR, CLI])
      expect(installed).not.toContain(name);
  });

  test('a host imports it by name and runs a block', async () => {
    await writeFile(
      join(cwd, 'host.mjs'),
      `
      import { createRegistry, runBlock } from '${LIBRARY}';
      const block = createRegistry().get('ReplicateFluxAdvancedModelBlock');
      const input = { credentials: { provider: 'replicate', id: 'k', type: 'api_key' }, prompt: 'a red fox', seed: 3 };
      const context = { credentials: { apiKey: process.env.TOKEN }, runner: { baseUrl: process.env.BASE_URL } };
      for await (const [name, value] of runBlock(block, input, context)) console.log(name, value);
    `,
    );
    const { stdout } = await run(process.execPath, ['host.mjs'], {
      cwd,
      env: { ...process.env, TOKEN, BASE_URL: handle.emulator.url },
    });
    expect(stdout).toMatch(/^result http:\/\/127\.0\.0\.1:\d+\/files\/\S+\.webp\nseed 3\n$/);
  });
});

describe('all three together', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await project('all', [tarball(LIBRARY), tarball(EMULATOR), tarball(CLI)]);
  }, scaled(240_000));

  test('flux-blocks demo runs the example graph on the embedded emulator and saves its image', async () => {
    const { stdout } = await run('npx', ['--no-install', 'flux-blocks', 'demo'], {
      cwd,
      env: { ...process.env, REPLICATE_API_TOKEN: '' },
    });
    const saved = /^Image saved to (\S+\.png)$/m.exec(stdout)?.[1];
    expect(saved).toBeDefined();
    expect((await stat(join(cwd, saved!))).size).toBeGreaterThan(1000);
  });

  test('the emulator package serves a block run by a host that imports both by name', async () => {
    await writeFile(
      join(cwd, 'host.mjs'),
      `
      import { createRegistry, runBlock } from '${LIBRARY}';
      import { startEmulator } from '${EMULATOR}';
      const emulator = await startEmulator({ startingMs: 10, processingMs: 20 });
      const block = createRegistry().get('ReplicateFluxAdvancedModelBlock');
      const input = { credentials: { provider: 'replicate', id: 'k', type: 'api_key' }, prompt: 'a red fox', seed: 3 };
      try {
        for await (const [name, value] of runBlock(block, input, { credentials: { apiKey: 'any' }, runner: { baseUrl: emulator.url } })) console.log(name, value);
      } finally {
        await emulator.close();
      }
    `,
    );
    const { stdout } = await run(process.execPath, ['host.mjs'], { cwd });
    expect(stdout).toMatch(/^result http:\/\/127\.0\.0\.1:\d+\/files\/\S+\.webp\nseed 3\n$/);
  });

  test('the CLI and the library it runs are one copy: the CLI depends on the library by name', async () => {
    expect(await readdir(join(cwd, 'node_modules', CLI, 'dist'))).not.toContain('shared');
    const { stdout } = await run('npx', ['--no-install', 'flux-blocks', 'list'], { cwd });
    expect(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((line) => line.split('\t')[1]),
    ).toContain('ReplicateFluxAdvancedModelBlock');
  });
});

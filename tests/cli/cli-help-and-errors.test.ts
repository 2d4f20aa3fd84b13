import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { TOKEN, useEmulator } from '../helpers.js';
import { cli as spawnCli } from './cli-process.js';

// Help that lists what there is, and usage errors in our words that say where to read more
// (issue 29), through the real CLI process.
const handle = useEmulator();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-help-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const cli = (args: string[], env: Record<string, string> = {}) => spawnCli(args, { env, cwd: dir });
const COMMANDS = ['list', 'schema', 'run', 'run-graph', 'worker', 'search', 'emulator', 'demo', 'mcp', 'studio'];

describe('help', () => {
  test('flux-blocks --help lists every command with a one-line description', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    for (const command of [...COMMANDS, 'help', '--version']) {
      expect(stdout).toMatch(new RegExp(`^  ${command} +\\w.+$`, 'm'));
    }
  });

  test.each(COMMANDS)('%s --help gives its usage and what it does', async (command) => {
    const { code, stdout } = await cli([command, '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: flux-blocks ${command}\\b.*\\n\\n[A-Z].+`));
  });
});

describe('usage errors', () => {
  test.each<[string[], string]>([
    [['run', 'ReplicateFluxKontextBlock', '--foo'], 'run: unknown flag --foo; see flux-blocks run --help'],
    [['list', '--all'], 'list: unknown flag --all; see flux-blocks list --help'],
    [['run', 'ReplicateFluxKontextBlock', '--input'], 'run: --input needs a value'],
    [['emulator', '--quiet=yes'], 'emulator: --quiet takes no value; see flux-blocks emulator --help'],
    [['list', 'extra'], 'list: unexpected argument "extra"; see flux-blocks list --help'],
    ...['mcp', 'studio', 'worker'].map((command): [string[], string] => [
      [command, '--bogus'],
      `${command}: unknown flag --bogus; see flux-blocks ${command} --help`,
    ]),
  ])('%j: our own one-line message, exit 2', async (args, message) => {
    const { code, stdout, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`flux-blocks: ${message}`);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/Unknown option|positional argument/);
  });

  test.each([
    ['kontext', 'ReplicateFluxKontextBlock'],
    ['replicatefluxkontextblock2', 'ReplicateFluxKontextBlock'],
    ['FluxKontex', 'ReplicateFluxKontextBlock'],
    ['fill', 'ReplicateFluxFillBlock'],
    ['saveimag', 'SaveImageBlock'],
  ])('an unknown block %s suggests %s', async (typed, suggested) => {
    const { code, stderr } = await cli(['schema', typed]);
    expect(code).toBe(2);
    expect(stderr).toContain(`unknown block "${typed}"; did you mean ${suggested}`);
  });

  test('a block name close to none suggests nothing', async () => {
    const { stderr } = await cli(['schema', 'zzzzzzzz']);
    expect(stderr).toContain('unknown block "zzzzzzzz"; see flux-blocks list');
  });

  test('a graph error ends with the command to get help for run-graph, and starts no emulator', async () => {
    await writeFile(join(dir, 'graph.json'), '{"nodes": [{"id": "a", "block_id": "NoSuchBlock"}]}');
    const { code, stderr } = await cli(['run-graph', 'graph.json']);
    expect(code).toBe(2);
    expect(stderr).not.toContain('embedded emulator');
    expect(stderr.trimEnd()).toMatch(
      /Node a: no block with id or name "NoSuchBlock".*\n.*flux-blocks run-graph --help[^\n]*$/,
    );
  });

  test('invalid --input JSON is refused before the embedded emulator starts', async () => {
    const { code, stderr } = await cli(['run', 'ReplicateFluxKontextBlock', '--input', '{bad']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^flux-blocks: --input is not valid JSON/);
    expect(stderr).not.toContain('No REPLICATE_API_TOKEN');
  });

  test.each([
    [['run', 'ReplicateFluxKontextBlock', '--input', '{"prompt":"x","input_image":"https://example.com/a.png"}']],
    [['run-graph', 'one-node.json']],
  ])('%j with a base URL and no token names REPLICATE_API_TOKEN; no request', async (args) => {
    await writeFile(join(dir, 'one-node.json'), JSON.stringify(ONE_NODE));
    const { code, stderr } = await cli(args, { REPLICATE_BASE_URL: handle.emulator.url });
    expect(code).toBe(2);
    expect(stderr).toContain('REPLICATE_API_TOKEN is not set');
    expect(stderr).not.toContain('context.credentials');
    expect(handle.emulator.requests).toHaveLength(0);
  });
});

const ONE_NODE = {
  nodes: [
    {
      id: 'generate',
      block_id: 'ReplicateFluxAdvancedModelBlock',
      input_default: { prompt: 'a red fox', replicate_model_name: 'Flux Schnell' },
    },
  ],
  links: [],
};

describe('run-graph keeps images only with --out or on the embedded emulator', () => {
  test('against a base URL without --out it writes no out/; with --out it does', async () => {
    const work = await mkdtemp(join(dir, 'graph-'));
    await writeFile(join(work, 'one-node.json'), JSON.stringify(ONE_NODE));
    const env = { REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: handle.emulator.url };
    const plain = await spawnCli(['run-graph', 'one-node.json'], { env, cwd: work });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('"output":"result"');
    expect(plain.stdout).not.toContain('"output":"file"');
    expect(await readdir(work)).toEqual(['one-node.json']);

    const kept = await spawnCli(['run-graph', 'one-node.json', '--out', 'kept'], { env, cwd: work });
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain('"output":"file"');
    expect(await readdir(join(work, 'kept'))).toHaveLength(1);
  });
});

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { startEmulator, type Emulator, type PredictionPlan } from '../../emulator/index.js';
import { requestsTo, ROOT, spawnOwned, TOKEN } from '../helpers.js';
import { BIN, cli as spawnCli } from './cli-process.js';

// The first ten minutes of a newcomer with the CLI: help, flags, inputs from files, local
// images, images kept, progress, the demo and the emulator command.
let emulator: Emulator;
let plan: PredictionPlan = {};
let dir: string;
beforeAll(async () => {
  emulator = await startEmulator({ startingMs: 10, processingMs: 60, plan: () => plan, token: TOKEN });
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-newcomer-'));
});
afterAll(async () => {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  emulator.requests.splice(0);
  plan = {};
});

const env = () => ({ REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: emulator.url });
const cli = (args: string[], stdin?: string) => spawnCli(args, { env: env(), cwd: dir, stdin });
const KONTEXT = 'ReplicateFluxKontextBlock';

describe('help, version and usage errors', () => {
  test.each(['list', 'schema', 'run', 'run-graph', 'worker', 'search', 'emulator', 'demo', 'mcp', 'studio'])(
    '%s --help prints its usage and exits 0',
    async (command) => {
      const { code, stdout } = await cli([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toMatch(new RegExp(`^Usage: flux-blocks ${command}\\b`));
      expect(emulator.requests).toHaveLength(0);
    },
  );

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect((await cli(['--version'])).stdout).toBe(`${version}\n`);
  });

  test.each<[string[], string]>([
    [['run', 'ReplicateFluxAdvancedModelBlock', '--input', '{}', '--out', 'a', '--out', 'b'], '--out is given twice'],
    [['mcp', '--port', '1', '--port', '2'], '--port is given twice'],
    [
      ['run', 'ReplicateFluxAdvancedModelBlock', '--input', '{}', '--base-url', 'notaurl'],
      '--base-url takes an http(s) URL',
    ],
    [['studio', '--base-url=ftp://x'], '--base-url takes an http(s) URL'],
    [['emulator', '--port', '6000'], '--port 6000 is a port fetch refuses to connect to'],
  ])('%j is a usage error (exit 2), before any request', async (args, message) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(emulator.requests).toHaveLength(0);
  });

  test('block names match whatever their case', async () => {
    const { code, lines } = await cli(['run', 'replicatefluxadvancedmodelblock', '--input', '{"prompt":"x"}']);
    expect(code).toBe(0);
    expect(lines[0]?.output).toBe('result');
  });
});

describe('inputs from files and standard input', () => {
  test('--input @file reads the JSON from a file', async () => {
    await writeFile(join(dir, 'input.json'), JSON.stringify({ prompt: 'from a file', seed: 8 }));
    const { code, lines } = await cli(['run', 'ReplicateFluxAdvancedModelBlock', '--input', '@input.json']);
    expect(code).toBe(0);
    expect(lines.at(-1)).toEqual({ output: 'seed', value: 8 });
    expect(
      (requestsTo(emulator, 'POST', /\/predictions$/)[0]!.body as { input: { prompt: string } }).input.prompt,
    ).toBe('from a file');
  });

  test('--input - reads it from standard input', async () => {
    const { code, lines } = await cli(
      ['run', 'ReplicateFluxAdvancedModelBlock', '--input', '-'],
      JSON.stringify({ prompt: 'from stdin', seed: 9 }),
    );
    expect(code).toBe(0);
    expect(lines.at(-1)).toEqual({ output: 'seed', value: 9 });
  });

  test('--input @missing.json is a usage error naming the file', async () => {
    const { code, stderr } = await cli(['run', 'ReplicateFluxAdvancedModelBlock', '--input', '@missing.json']);
    expect(code).toBe(2);
    expect(stderr).toContain('--input @missing.json: cannot read the file (ENOENT)');
  });

  test('--input - over 10 MiB is a usage error naming the limit, and the rest is never read', async () => {
    const child = spawnOwned(process.execPath, [BIN, 'run', 'ReplicateFluxAdvancedModelBlock', '--input', '-'], {
      env: { PATH: process.env.PATH ?? '', ...env() },
      cwd: dir,
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    // The CLI stops reading and exits: writes after that fail with EPIPE, which is expected.
    child.stdin.on('error', () => undefined);
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    let done = false;
    void exited.then(() => (done = true));
    const total = 64 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    let written = 0;
    child.stdin.write('{"prompt":"');
    while (!done && written < total) {
      written += chunk.length;
      if (!child.stdin.write(chunk)) await Promise.race([once(child.stdin, 'drain').catch(() => undefined), exited]);
    }
    child.stdin.end('"}');
    expect(await exited).toBe(2);
    expect(stderr).toContain('--input - (standard input) is over the 10485760-byte (10 MiB) limit');
    expect(written).toBeLessThan(total);
    expect(emulator.requests).toHaveLength(0);
  });

  test('--input @file and a run-graph file over 10 MiB are usage errors naming the limit', async () => {
    await writeFile(join(dir, 'big.json'), JSON.stringify({ prompt: 'x'.repeat(11 * 1024 * 1024) }));
    const input = await cli(['run', 'ReplicateFluxAdvancedModelBlock', '--input', '@big.json']);
    expect(input.code).toBe(2);
    expect(input.stderr).toContain('--input @big.json is over the 10485760-byte (10 MiB) limit');
    const graph = await cli(['run-graph', 'big.json']);
    expect(graph.code).toBe(2);
    expect(graph.stderr).toContain('big.json is over the 10485760-byte (10 MiB) limit');
    expect(emulator.requests).toHaveLength(0);
  });
});

describe('local image files', () => {
  test('a small local image goes inline as a data: URI; the output keeps its proportions', async () => {
    await sharp({ create: { width: 300, height: 100, channels: 3, background: '#336' } })
      .png()
      .toFile(join(dir, 'wide.png'));
    const { code, lines } = await cli([
      'run',
      KONTEXT,
      '--input',
      '{"prompt":"make it night","input_image":"wide.png"}',
    ]);
    expect(code).toBe(0);
    const [create] = requestsTo(emulator, 'POST', /\/predictions$/);
    expect((create!.body as { input: { input_image: string } }).input.input_image).toMatch(/^data:image\/png;base64,/);
    const image = await sharp(Buffer.from(await (await fetch(String(lines[0]!.value))).arrayBuffer())).metadata();
    expect(image.width! / image.height!).toBeCloseTo(3, 0);
  });

  test('a local image over 256 KB is uploaded through the Files API; no argument list grows', async () => {
    await sharp(randomBytes(500 * 400 * 3), { raw: { width: 500, height: 400, channels: 3 } })
      .png()
      .toFile(join(dir, 'noise.png'));
    const { code } = await cli(['run', KONTEXT, '--input', '{"prompt":"calm it down","input_image":"noise.png"}']);
    expect(code).toBe(0);
    expect(requestsTo(emulator, 'POST', /^\/v1\/files$/)).toHaveLength(1);
    const [create] = requestsTo(emulator, 'POST', /\/predictions$/);
    expect((create!.body as { input: { input_image: string } }).input.input_image).toMatch(/\/v1\/files\/[a-z2-7]+$/);
  });

  test.each<[string, RegExp]>([
    ['../outside.png', /^input_image: the local file \.\.\/outside\.png is outside /],
    ['nothing-here.png', /^input_image: no file nothing-here\.png/],
    ['input.json', /^input_image: input\.json: The \d+ bytes are not an image/],
  ])('%s is refused, naming the field, before any request', async (path, message) => {
    await writeFile(join(dir, 'input.json'), '{}');
    const { code, lines } = await cli(['run', KONTEXT, '--input', JSON.stringify({ prompt: 'x', input_image: path })]);
    expect(code).toBe(1);
    expect(lines).toEqual([{ output: 'error', value: expect.stringMatching(message) }]);
    expect(emulator.requests).toHaveLength(0);
  });
});

test('progress: the status shows while the prediction runs, with no more requests than polling every 500 ms', async () => {
  plan = { startingMs: 300, processingMs: 2_500 };
  const started = Date.now();
  const { code, stderr } = await cli(['run', 'ReplicateFluxAdvancedModelBlock', '--input', '{"prompt":"x"}']);
  const seconds = (Date.now() - started) / 1000;
  expect(code).toBe(0);
  const statuses = stderr
    .split('\n')
    .filter((l) => l.startsWith('prediction '))
    .map((l) => l.split(': ')[1]!.split(' ')[0]);
  expect(statuses.indexOf('processing')).toBeGreaterThanOrEqual(0);
  expect(statuses.indexOf('processing')).toBeLessThan(statuses.indexOf('succeeded'));
  expect(requestsTo(emulator, 'POST', /\/predictions$/)[0]!.headers.prefer).toBe('wait=1');
  expect(requestsTo(emulator, 'GET', /^\/v1\/predictions\//).length).toBeLessThanOrEqual(Math.ceil(seconds / 0.5) + 1);
});

test('the demo uses your prompt in every node that takes one', async () => {
  const { code } = await cli(['demo', 'a', 'red', 'fox']);
  expect(code).toBe(0);
  const prompts = requestsTo(emulator, 'POST', /\/predictions$/).map(
    (r) => (r.body as { input: { prompt: string } }).input.prompt,
  );
  expect(prompts).toHaveLength(2);
  for (const prompt of prompts) expect(prompt).toContain('a red fox');
  expect(prompts.join(' ')).not.toContain('lighthouse');
});

describe('flux-blocks emulator', () => {
  /** Starts the emulator command and resolves with its Try line; `stderr` collects its log. */
  function serve(args: string[]) {
    const child = spawnOwned(process.execPath, [BIN, 'emulator', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '' },
    });
    const log = { stderr: '' };
    child.stderr.on('data', (chunk) => (log.stderr += chunk));
    const tryLine = new Promise<string>((resolve) => {
      let stdout = '';
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const line = stdout.split('\n').find((l) => l.startsWith('Try: '));
        if (line) resolve(line.slice(5));
      });
    });
    return { child, log, tryLine };
  }

  test('its Try line works as printed, also with --token; each request is logged without the token', async () => {
    const { child, log, tryLine } = serve(['--token', 'my-emulator-token-123']);
    try {
      const command = await tryLine;
      const result = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const shell = spawnOwned('bash', ['-c', command], { cwd: ROOT, env: { PATH: process.env.PATH ?? '' } });
        let stdout = '';
        shell.stdout.on('data', (chunk) => (stdout += chunk));
        shell.on('close', (code) => resolve({ code, stdout }));
      });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^\{"output":"result"/);
      expect(log.stderr).toMatch(/^POST \/v1\/models\/black-forest-labs\/flux-schnell\/predictions 20[12] \d+ ms$/m);
      expect(log.stderr).not.toContain('my-emulator-token-123');
    } finally {
      child.kill('SIGINT');
    }
  });

  test('--quiet logs nothing', async () => {
    const { child, log, tryLine } = serve(['--quiet']);
    try {
      const base = /REPLICATE_BASE_URL=(\S+)/.exec(await tryLine)![1]!;
      expect((await fetch(`${base}/predictions`, { headers: { Authorization: 'Bearer x' } })).status).toBe(200);
      expect(log.stderr).toBe('');
    } finally {
      child.kill('SIGINT');
    }
  });
});

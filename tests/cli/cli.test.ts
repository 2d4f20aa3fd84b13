import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { startEmulator, type Emulator, type PredictionPlan } from '../../emulator/index.js';
import { fanOutGraph, requestsTo, ROOT, scaled, TOKEN, until } from '../helpers.js';
import { cli as spawnCli } from './cli-process.js';

const BLOCK = 'ReplicateFluxAdvancedModelBlock';

let emulator: Emulator;
let plan: PredictionPlan = {};
let outDir: string;
beforeAll(async () => {
  // It accepts TOKEN only, so a run that succeeds sent it.
  emulator = await startEmulator({ startingMs: 10, processingMs: 60, plan: () => plan, token: TOKEN });
  outDir = await mkdtemp(join(tmpdir(), 'flux-blocks-cli-'));
});
afterAll(async () => {
  await emulator.close();
  await rm(outDir, { recursive: true, force: true });
});
beforeEach(() => {
  emulator.requests.splice(0);
  plan = {};
});

/** Spawns the built CLI in the test's directory with only the given REPLICATE_* variables. */
const cli = (args: string[], env: Record<string, string> = {}, onStart?: Parameters<typeof spawnCli>[1]['onStart']) =>
  spawnCli(args, { env, cwd: outDir, onStart });

const withEmulator = () => ({ REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: emulator.url });

test('list prints id, name and description of each block', async () => {
  const { createRegistry } = await import('../../blocks/index.js');
  const { code, stdout } = await cli(['list']);
  expect(code).toBe(0);
  expect(stdout.split('\n')[0]).toBe(
    `90f8c45e-e983-4644-aa0b-b4ebe2f531bc\t${BLOCK}\tThis block runs Flux models on Replicate with advanced settings.`,
  );
  expect(stdout).toBe(
    createRegistry()
      .list()
      .map((b) => `${b.id}\t${b.name}\t${b.description}\n`)
      .join(''),
  );
});

describe('run', () => {
  test('runs the block, prints outputs as JSON lines, progress on stderr, and saves the image', async () => {
    const out = join(outDir, 'images');
    const input = JSON.stringify({ prompt: 'a red fox', aspect_ratio: '16:9', seed: 3 });
    const ok = await cli(['run', BLOCK, '--input', input, '--out', out, '--base-url', emulator.url], {
      REPLICATE_API_TOKEN: TOKEN,
    });
    expect(ok.code).toBe(0);
    const [file] = await readdir(out);
    expect(ok.lines).toEqual([
      { output: 'result', value: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.webp$/) },
      { output: 'file', value: join(out, file!) },
      { output: 'seed', value: 3 },
    ]);
    expect(ok.stderr).toMatch(/prediction [a-z2-7]+: succeeded 100%/);
    expect(ok.stdout + ok.stderr).not.toContain(TOKEN);
    const metadata = await sharp(await readFile(join(out, file!))).metadata();
    expect([metadata.format, metadata.width, metadata.height]).toEqual(['webp', 1360, 768]);
    // The CLI fills the credentials field and sends the token as a Bearer header (the emulator accepts TOKEN only).
    expect(requestsTo(emulator, 'POST', /\/predictions$/)[0]!.headers.authorization).toBe('Bearer [REDACTED]');
  });

  test('REPLICATE_BASE_URL is used when --base-url is not given', async () => {
    const { code, lines } = await cli(
      ['run', '90f8c45e-e983-4644-aa0b-b4ebe2f531bc', '--input', '{"prompt":"x"}'],
      withEmulator(),
    );
    expect(code).toBe(0);
    expect(lines.map((l) => l.output)).toEqual(['result', 'seed']);
    expect(emulator.requests).toHaveLength(1);
  });

  test('with neither token nor base URL it starts the embedded emulator and says so', async () => {
    const { code, stderr, lines } = await cli([
      'run',
      BLOCK,
      '--input',
      '{"prompt":"x","replicate_model_name":"Flux Dev"}',
    ]);
    expect(code).toBe(0);
    expect(stderr).toMatch(
      /^No REPLICATE_API_TOKEN or base URL set: using the embedded emulator at http:\/\/127\.0\.0\.1:\d+\/v1/,
    );
    // Its URLs die with the process, so the image is kept in out/ and its path printed.
    expect(lines.map((l) => l.output)).toEqual(['result', 'file', 'seed']);
  });

  test('a base URL without a token is a usage error naming REPLICATE_API_TOKEN, and no request', async () => {
    const { code, stderr } = await cli(['run', BLOCK, '--input', '{"prompt":"x"}', '--base-url', emulator.url]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^flux-blocks: REPLICATE_API_TOKEN is not set: with a base URL/);
    expect(stderr).not.toContain('context.credentials');
    expect(emulator.requests).toHaveLength(0);
  });

  test.each([
    ['{"prompt":"x","output_quality":101}', 'Invalid input: output_quality: must be <= 100'],
    ['null', 'Invalid input: input: must be an object, got null'],
    ['[1]', 'Invalid input: input: must be an object, got array'],
  ])('input %s is a block error: exit 1, no request', async (input, message) => {
    const { code, lines } = await cli(['run', BLOCK, '--input', input], withEmulator());
    expect(code).toBe(1);
    expect(lines).toEqual([{ output: 'error', value: message }]);
    expect(emulator.requests).toHaveLength(0);
  });

  test.each([
    [['run', BLOCK, '--input', '{nope'], '--input is not valid JSON'],
    [['run', BLOCK, '--input', '{}', '--bogus'], 'run: unknown flag --bogus; see flux-blocks run --help'],
    [['run', 'NoSuchBlock', '--input', '{}'], 'unknown block "NoSuchBlock"'],
    [['run', BLOCK], 'run needs --input'],
    [
      ['run', BLOCK, '--input', '{}', '--timeout-ms', 'soon'],
      '--timeout-ms takes a whole number of milliseconds from 1 to 86400000',
    ],
    [['paint'], 'unknown command "paint"'],
    [['__proto__'], 'unknown command "__proto__"'],
    [['constructor'], 'unknown command "constructor"'],
    [[], 'Usage:\n  flux-blocks list'],
  ])('usage error %j: exit 2', async (args, message) => {
    const { code, stdout, stderr } = await cli(args, withEmulator());
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
    expect(emulator.requests).toHaveLength(0);
  });

  test('--timeout-ms bounds the run and cancels the prediction', async () => {
    plan = { processingMs: 30_000 };
    const { code, lines } = await cli(
      ['run', BLOCK, '--input', '{"prompt":"x"}', '--timeout-ms', '1500'],
      withEmulator(),
    );
    expect(code).toBe(1);
    expect(lines).toEqual([
      {
        output: 'error',
        value: expect.stringMatching(
          /^The run timed out after 1500 ms; prediction [a-z2-7]+ was canceled\. Raise the runner timeout/,
        ),
      },
    ]);
    expect(requestsTo(emulator, 'POST', /\/cancel$/)).toHaveLength(1);
  });

  test('Ctrl-C cancels the remote prediction before exiting', async () => {
    plan = { processingMs: 30_000 };
    const created = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (emulator.requests.length) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    const { code, lines } = await cli(['run', BLOCK, '--input', '{"prompt":"x"}'], withEmulator(), (child) => {
      void created.then(() => child.kill('SIGINT'));
    });
    expect(code).toBe(130);
    expect(lines).toEqual([
      {
        output: 'error',
        value: expect.stringMatching(/^The run was interrupted \(Ctrl-C\); prediction [a-z2-7]+ was canceled\./),
      },
    ]);
    expect(requestsTo(emulator, 'POST', /\/cancel$/)).toHaveLength(1);
  });
});

describe('run-graph', () => {
  const graphLines = (stdout: string) =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{"node":'))
      .map((line) => JSON.parse(line) as { node: string; output: string; value: unknown });

  test('runs an example graph: JSON lines per output, files in --out, exit 0', async () => {
    const out = join(outDir, 'graph');
    const { code, stdout, stderr } = await cli(
      ['run-graph', join(ROOT, 'examples', 'generate-four-save-each.json'), '--out', out],
      withEmulator(),
    );
    expect(code).toBe(0);
    const lines = graphLines(stdout);
    expect(lines.filter((l) => l.node === 'generate' && l.output !== 'file').map((l) => l.output)).toEqual([
      'result',
      'result',
      'result',
      'result',
      'seed',
    ]);
    const paths = lines.filter((l) => l.output === 'path').map((l) => String(l.value));
    expect(paths).toHaveLength(4);
    // The CLI keeps each result image too: the same images, so the same files (named by content).
    expect(
      lines
        .filter((l) => l.output === 'file')
        .map((l) => String(l.value))
        .sort(),
    ).toEqual([...paths].sort());
    expect((await readdir(out)).sort()).toEqual(paths.map((p) => p.slice(out.length + 1)).sort());
    expect(stdout + stderr).not.toContain(TOKEN);
  });

  test('a node that yields error: its line is printed, the failure on stderr, exit 1', async () => {
    plan = { outcome: 'failed', error: 'CUDA out of memory' };
    const { code, stdout, stderr } = await cli(
      ['run-graph', join(ROOT, 'examples', 'generate-edit-save.json'), '--out', join(outDir, 'failed')],
      withEmulator(),
    );
    expect(code).toBe(1);
    expect(graphLines(stdout)).toEqual([
      { node: 'generate', output: 'error', value: expect.stringContaining('CUDA out of memory') },
    ]);
    expect(stderr).toContain('Node generate (ReplicateFluxAdvancedModelBlock) failed: Prediction');
    expect(stderr).toContain('Stopped, as a node upstream failed: edit, save');
  });

  test.each([
    ['{"nodes": []}', 'Invalid graph: nodes: must have at least 1 item(s)'],
    ['{"nodes": [{"id": "a", "block_id": "NoSuchBlock"}]}', 'Node a: no block with id or name "NoSuchBlock"'],
    ['not json', 'graph.json: '],
  ])('a graph that cannot run (%s): exit 2 and no request', async (content, message) => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(outDir, 'graph.json'), content);
    const { code, stderr } = await cli(['run-graph', 'graph.json'], withEmulator());
    expect(code).toBe(2);
    expect(stderr).toContain(message);
    expect(emulator.requests).toHaveLength(0);
  });

  test('a graph that fans out past 1,000 node runs: exit 2 naming the node and --max-node-runs, nothing run', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(outDir, 'fan-out.json'), JSON.stringify(fanOutGraph(6, 10)));
    const { code, stdout, stderr } = await cli(['run-graph', 'fan-out.json'], withEmulator());
    expect(code).toBe(2);
    expect(stderr).toContain(
      'flux-blocks: Node l3-8 (SaveImageBlock): the graph could make 1011 node runs by this node, past the limit of 1000 (maxNodeRuns).',
    );
    expect(stderr).toContain('or raise maxNodeRuns (--max-node-runs)');
    expect(stdout).toBe('');
  });

  test('--max-node-runs sets the cap: 111 runs are refused under 110 and run under 111', async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(outDir, 'fan-out-111.json'), JSON.stringify(fanOutGraph(2, 10)));
    const under = await cli(['run-graph', 'fan-out-111.json', '--max-node-runs', '110'], withEmulator());
    expect(under.code).toBe(2);
    expect(under.stderr).toContain('Node l2-9 (SaveImageBlock): the graph could make 111 node runs by this node');
    const enough = await cli(['run-graph', 'fan-out-111.json', '--max-node-runs', '111'], withEmulator());
    expect(enough.code).toBe(0);
    expect(graphLines(enough.stdout).filter((l) => l.output === 'data_uri')).toHaveLength(111);
    const zero = await cli(['run-graph', 'fan-out-111.json', '--max-node-runs', '0'], withEmulator());
    expect(zero.code).toBe(2);
    expect(zero.stderr).toContain('--max-node-runs takes a whole number of at least 1');
  });

  test('SIGTERM cancels the running prediction and exits 143 within seconds', async () => {
    plan = { processingMs: 60_000 };
    let child!: Parameters<NonNullable<Parameters<typeof spawnCli>[1]['onStart']>>[0];
    const finished = cli(
      ['run-graph', join(ROOT, 'examples', 'generate-edit-save.json'), '--out', join(outDir, 'terminated')],
      withEmulator(),
      (started) => (child = started),
    );
    await until(() => requestsTo(emulator, 'POST', /\/predictions$/).length > 0);
    const signaledAt = Date.now();
    child.kill('SIGTERM');
    const { code, stdout, stderr } = await finished;
    expect(Date.now() - signaledAt).toBeLessThan(scaled(5_000));
    expect(code).toBe(143);
    expect(stderr).toContain('Terminated: canceling the prediction (SIGTERM again to quit at once)...');
    expect(graphLines(stdout)).toEqual([
      {
        node: 'generate',
        output: 'error',
        value: expect.stringMatching(/^The run was terminated \(SIGTERM\); prediction [a-z2-7]+ was canceled\./),
      },
    ]);
    expect(requestsTo(emulator, 'POST', /\/cancel$/)).toHaveLength(1);
  });
});

test('demo runs the generate -> edit -> save example on the embedded emulator and prints the saved path', async () => {
  const { code, stdout } = await cli(['demo', 'a', 'red', 'fox']);
  expect(code).toBe(0);
  const [, path] = /^Image saved to (.+)$/m.exec(stdout) ?? [];
  const metadata = await sharp(await readFile(join(outDir, path!))).metadata();
  expect([metadata.format, metadata.width, metadata.height]).toEqual(['png', 1248, 832]);
  const lines = stdout
    .split('\n')
    .filter((line) => line.startsWith('{"node":'))
    .map((line) => JSON.parse(line) as { node: string; output: string; value: unknown });
  const generated = lines.find((l) => l.node === 'generate' && l.output === 'result')!.value;
  expect(generated).toEqual(expect.stringMatching(/\/files\/[a-z2-7]+\/out-0\.png$/));
});

test('emulator serves the Replicate API until stopped', async () => {
  let child!: Parameters<NonNullable<Parameters<typeof spawnCli>[1]['onStart']>>[0];
  const finished = cli(['emulator', '--port', '0', '--quiet'], {}, (started) => (child = started));
  const baseUrl = await new Promise<string>((resolve) => {
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening at (\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
  });
  // Asserted here, not in the listener: a failure reads as itself, not as a timeout.
  const response = await fetch(`${baseUrl}/predictions`, { headers: { Authorization: 'Bearer any' } });
  expect(response.status).toBe(200);
  child.kill('SIGTERM');
  const { code, stdout } = await finished;
  expect(code).toBe(0);
  expect(stdout).toMatch(/^Replicate-compatible emulator listening at http:\/\/127\.0\.0\.1:\d+\/v1\n/);
});

test('schema prints the block info as in the manifest', async () => {
  const { createRegistry } = await import('../../blocks/index.js');
  const { code, stdout } = await cli(['schema', BLOCK]);
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toEqual(createRegistry().manifest()[0]);
  expect((await cli(['schema', 'NoSuchBlock'])).code).toBe(2);
});

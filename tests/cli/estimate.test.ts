import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, test } from '@jest/globals';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { own, ROOT, TOKEN } from '../helpers.js';
import { cli as spawnCli } from './cli-process.js';

let emulator: Emulator;
let dir: string;
beforeAll(async () => {
  emulator = await own(startEmulator({ startingMs: 10, processingMs: 40, token: TOKEN }), (e) => e.close());
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-estimate-'));
});
afterAll(async () => {
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  emulator.requests.splice(0);
});

const cli = (args: string[]) =>
  spawnCli(args, { env: { REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: emulator.url }, cwd: dir });

/** examples/generate-edit-save.json with the edit on `model`. */
async function graphFile(model: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const graph = JSON.parse(await readFile(join(ROOT, 'examples', 'generate-edit-save.json'), 'utf8')) as {
    nodes: Array<{ id: string; input_default: Record<string, unknown> }>;
  };
  graph.nodes.find((n) => n.id === 'edit')!.input_default.model = model;
  const file = join(dir, `${model.replace(/ /g, '-')}.json`);
  await writeFile(file, JSON.stringify(graph));
  return file;
}

test('run-graph --estimate prints the worst-case USD per node and in total, and creates nothing', async () => {
  const { code, stdout, stderr } = await cli([
    'run-graph',
    join(ROOT, 'examples', 'generate-four-save-each.json'),
    '--estimate',
  ]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(stdout.trim().split('\n')).toEqual([
    'generate (ReplicateFluxAdvancedModelBlock, black-forest-labs/flux-schnell): 1 run x 4 images x $0.003 = $0.012',
    'save (SaveImageBlock): 4 runs, no charge',
    'Total, worst case: $0.012',
  ]);
  expect(emulator.requests).toEqual([]);
});

test('an unknown price makes the total "at least $X, N nodes unknown"', async () => {
  const { code, stdout } = await cli(['run-graph', await graphFile('Flux Kontext Dev'), '--estimate']);
  expect(code).toBe(0);
  expect(stdout).toContain('Total, worst case: at least $0.003, 1 node unknown (edit)');
  expect(emulator.requests).toEqual([]);
});

test('--max-cost refuses a graph whose worst case passes it before any request, and runs one within it', async () => {
  const over = await cli(['run-graph', join(ROOT, 'examples', 'generate-edit-save.json'), '--max-cost', '0.04']);
  expect(over.code).toBe(2);
  expect(over.stderr).toContain(
    'Not run: the graph could cost $0.043 in the worst case, past the limit of $0.04 (maxCostUsd, --max-cost)',
  );
  expect(emulator.requests).toEqual([]);
  const estimated = await cli(['run-graph', await graphFile('Flux Kontext Max'), '--estimate', '--max-cost', '0.05']);
  expect(estimated.code).toBe(1);
  expect(estimated.stderr).toContain('The worst case ($0.083) is not within --max-cost $0.05.');
  const bad = await cli(['run-graph', 'x.json', '--max-cost', 'lots']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('--max-cost takes an amount of USD above 0, e.g. --max-cost 0.50');
  expect(emulator.requests).toEqual([]);
  const within = await cli(['run-graph', join(ROOT, 'examples', 'generate-edit-save.json'), '--max-cost', '$0.05']);
  expect(within.code).toBe(0);
  expect(within.stdout).toContain('"node":"save","output":"path"');
});

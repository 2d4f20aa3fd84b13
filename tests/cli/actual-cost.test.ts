import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { own, ROOT, TOKEN } from '../helpers.js';
import { cli as spawnCli } from './cli-process.js';

// The actual cost after a run, on stderr: outputs x the price per image (docs/costs.md).
let emulator: Emulator;
let dir: string;
beforeAll(async () => {
  emulator = await own(startEmulator({ startingMs: 10, processingMs: 40, token: TOKEN }), (e) => e.close());
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-actual-cost-'));
});
afterAll(async () => {
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const cli = (args: string[]) =>
  spawnCli(args, { env: { REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: emulator.url }, cwd: dir });

test('run prints the actual cost of its prediction: outputs x the price per image', async () => {
  const input = JSON.stringify({ prompt: 'a fox', replicate_model_name: 'Flux Schnell', num_outputs: 2 });
  const { code, stderr, lines } = await cli(['run', 'ReplicateFluxAdvancedModelBlock', '--input', input]);
  expect(code).toBe(0);
  expect(lines.filter((l) => l.output === 'result')).toHaveLength(2);
  expect(stderr).toContain('Actual cost: black-forest-labs/flux-schnell: 2 images x $0.003 = $0.006\n');
});

test('run-graph prints the actual cost per node and in total', async () => {
  const { code, stderr } = await cli(['run-graph', join(ROOT, 'examples', 'generate-four-save-each.json')]);
  expect(code).toBe(0);
  expect(stderr).toContain(
    'generate (ReplicateFluxAdvancedModelBlock): black-forest-labs/flux-schnell: 4 images x $0.003 = $0.012\nActual cost: $0.012\n',
  );
  // Save Image bills nothing: no line of its own.
  expect(stderr).not.toMatch(/^save /m);
});

test('a model whose price is unknown is "unknown", and the total "at least"', async () => {
  const graph = JSON.parse(await readFile(join(ROOT, 'examples', 'generate-edit-save.json'), 'utf8')) as {
    nodes: Array<{ id: string; input_default: Record<string, unknown> }>;
  };
  graph.nodes.find((n) => n.id === 'edit')!.input_default.model = 'Flux Kontext Dev';
  const file = join(dir, 'kontext-dev.json');
  await writeFile(file, JSON.stringify(graph));
  const { code, stderr } = await cli(['run-graph', file]);
  expect(code).toBe(0);
  expect(stderr).toContain(
    'generate (ReplicateFluxAdvancedModelBlock): black-forest-labs/flux-schnell: 1 image x $0.003 = $0.003\n',
  );
  expect(stderr).toContain(
    'edit (ReplicateFluxKontextBlock): black-forest-labs/flux-kontext-dev: unknown (no known price for black-forest-labs/flux-kontext-dev)\n',
  );
  expect(stderr).toContain('Actual cost: at least $0.003, unknown for 1 node (edit)\n');
});

test('run of a community model billed by hardware time, whose hardware price is unknown, says unknown', async () => {
  const input = JSON.stringify({
    model: 'lucataco/flux-schnell-lora:2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574',
    input: { prompt: 'a fox' },
  });
  const { code, stderr } = await cli(['run', 'ReplicateModelBlock', '--input', input]);
  expect(code).toBe(0);
  expect(stderr).toMatch(
    /^Actual cost: lucataco\/flux-schnell-lora: unknown \(no known price for lucataco\/flux-schnell-lora:[0-9a-f]{64}\)$/m,
  );
});

test('run of an official model through the Replicate Model block is priced by the model that ran', async () => {
  const input = JSON.stringify({ model: 'black-forest-labs/flux-schnell', input: { prompt: 'a fox', num_outputs: 3 } });
  const { code, stderr } = await cli(['run', 'ReplicateModelBlock', '--input', input]);
  expect(code).toBe(0);
  expect(stderr).toContain('Actual cost: black-forest-labs/flux-schnell: 3 images x $0.003 = $0.009\n');
});

import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { own, ROOT, TOKEN, until, useEmulator } from '../helpers.js';

// The package's nodes in the real Node-RED 4.1.8 runtime, through node-red-node-test-helper.
const require = createRequire(import.meta.url);
interface RedNode {
  id: string;
  type: string;
  receive(msg: object): void;
  on(event: string, listener: (...args: never[]) => void): void;
  status(status: object): void;
}
const helper = require('node-red-node-test-helper') as {
  init(runtimePath: string, settings?: object): void;
  startServer(done: () => void): void;
  stopServer(done: () => void): void;
  load(nodes: unknown[], flow: object[], credentials?: object): Promise<void>;
  unload(): Promise<void>;
  getNode(id: string): RedNode | null;
};
const PACKAGE = join(ROOT, 'integrations', 'node-red');
const fluxNodes: unknown = require(join(PACKAGE, 'nodes', 'flux-blocks.js'));
const injectNode: unknown = require('@node-red/nodes/core/common/20-inject.js');
const specs = require(join(PACKAGE, 'nodes', 'blocks.json')) as Array<{
  type: string;
  block: string;
  outputs: string[];
}>;
const example = require(join(PACKAGE, 'examples', 'flux-flow.json')) as Array<Record<string, unknown>>;

const handle = useEmulator();
let dir: string;

beforeAll(async () => {
  helper.init(require.resolve('node-red'));
  await own(
    new Promise<void>((resolve) => helper.startServer(resolve)),
    () => new Promise<void>((r) => helper.stopServer(r)),
  );
  dir = await own(mkdtemp(join(tmpdir(), 'flux-node-red-')), (made) => rm(made, { recursive: true, force: true }));
});
afterEach(() => helper.unload());

/** The example flow, its config node pointed at the emulator, Save Image at `dir`, debug nodes swapped for helper nodes. */
function exampleFlow(): object[] {
  return example.map((node) => {
    const copy = { ...node };
    if (copy.type === 'flux-replicate-config') copy.baseUrl = `${handle.emulator.url}`;
    if (copy.type === 'flux-save-image') copy.dir = dir;
    if (copy.type === 'debug') return { id: copy.id, z: copy.z, type: 'helper' };
    return copy;
  });
}
const credentials = { 'flux-example-replicate': { token: TOKEN } };

test('the package loads one node per block of the registry, in the Flux category', async () => {
  expect(specs.map((spec) => spec.block)).toEqual(
    createRegistry()
      .list()
      .map((block) => block.name),
  );
  const flow = [
    { id: 'config', type: 'flux-replicate-config' },
    ...specs.map((spec, i) => ({ id: `n${i}`, type: spec.type, replicate: 'config', wires: [] })),
  ];
  await helper.load([fluxNodes], flow, { config: { token: TOKEN } });
  specs.forEach((spec, i) => expect(helper.getNode(`n${i}`)?.type).toBe(spec.type));
  const html = await readFile(join(PACKAGE, 'nodes', 'flux-blocks.html'), 'utf8');
  for (const spec of specs) expect(html).toContain(`RED.nodes.registerType(${JSON.stringify(spec.type)}`);
  expect(html.match(/category: 'Flux'/g)).toHaveLength(specs.length);
});

test('inject → Flux Advanced → Save Image runs against the emulator and writes the image; node.status shows progress', async () => {
  await helper.load([fluxNodes, injectNode], exampleFlow(), credentials);
  const saved = helper.getNode('flux-example-saved')!;
  const errors = helper.getNode('flux-example-errors')!;
  const statuses: string[] = [];
  const flux = helper.getNode('flux-example-generate')!;
  const status = flux.status.bind(flux);
  flux.status = (s: { text?: string }) => (statuses.push(String(s.text)), status(s));
  const failures: unknown[] = [];
  errors.on('input', (msg: { payload: unknown }) => failures.push(msg.payload));
  const paths: string[] = [];
  saved.on('input', (msg: { payload: string }) => paths.push(msg.payload));
  helper.getNode('flux-example-inject')!.receive({});
  await until(() => paths.length > 0 || failures.length > 0);
  expect(failures).toEqual([]);
  expect(paths[0]!.startsWith(dir)).toBe(true);
  expect((await stat(paths[0]!)).size).toBeGreaterThan(0);
  const create = handle.emulator.requests.find((r) => r.method === 'POST' && /predictions$/.test(r.path))!;
  expect((create.body as { input: { prompt: string } }).input.prompt).toBe('a lighthouse at dawn, watercolor');
  expect(statuses[0]).toBe('starting');
  expect(statuses).toContain('done');
  expect(statuses.some((text) => /^(starting|processing|succeeded)/.test(text) && text !== 'starting')).toBe(true);
});

test('msg.<field> goes over msg.payload, which goes over the settings', async () => {
  await helper.load([fluxNodes, injectNode], exampleFlow(), credentials);
  const flux = helper.getNode('flux-example-generate')!;
  flux.receive({
    payload: { prompt: 'from the payload', steps: 500, seed: 7 },
    steps: 20,
    replicate_model_name: 'Flux Dev',
  });
  await until(() => handle.emulator.requests.find((r) => r.method === 'POST' && /predictions$/.test(r.path)));
  const create = handle.emulator.requests.find((r) => r.method === 'POST' && /predictions$/.test(r.path))!;
  expect(create.path).toMatch(/flux-dev/);
  expect((create.body as { input: object }).input).toMatchObject({
    prompt: 'from the payload',
    num_inference_steps: 20,
    seed: 7,
    aspect_ratio: '1:1',
  });
});

test('an input error goes to the error output and node.error, before any request and without the token', async () => {
  await helper.load([fluxNodes, injectNode], exampleFlow(), credentials);
  const flux = helper.getNode('flux-example-generate')!;
  const errors: string[] = [];
  helper.getNode('flux-example-errors')!.on('input', (msg: { payload: string }) => errors.push(msg.payload));
  flux.receive({ payload: { prompt: 'a cat', steps: 500 }, replicate_model_name: 'Flux Dev' });
  await until(() => errors.length > 0);
  expect(errors[0]).toMatch(/steps/);
  expect(errors[0]).not.toContain(TOKEN);
  expect(handle.emulator.requests).toEqual([]);
  const logged = (helper as unknown as { log(): { args: Array<[{ level: number; msg: unknown }]> } })
    .log()
    .args.map(([entry]) => entry)
    .filter((entry) => entry.level === 20);
  expect(logged.map((entry) => String(entry.msg))).toContainEqual(expect.stringMatching(/steps/));
  expect(JSON.stringify(logged)).not.toContain(TOKEN);
});

test('a node without a token answers on its error output before any request', async () => {
  await helper.load([fluxNodes, injectNode], exampleFlow(), {});
  const errors: string[] = [];
  helper.getNode('flux-example-errors')!.on('input', (msg: { payload: string }) => errors.push(msg.payload));
  helper.getNode('flux-example-generate')!.receive({ payload: 'a cat' });
  await until(() => errors.length > 0);
  expect(errors[0]).toMatch(/No Replicate API token: pick a Replicate config node/);
  expect(handle.emulator.requests).toEqual([]);
});

test("Node-RED's close (redeploy, stop) cancels a running prediction", async () => {
  handle.plan = { processingMs: 60_000 };
  await helper.load([fluxNodes, injectNode], exampleFlow(), credentials);
  const before = handle.emulator.created;
  helper.getNode('flux-example-generate')!.receive({ payload: 'a slow cat' });
  await until(() => handle.emulator.created > before);
  await helper.unload();
  const cancel = handle.emulator.requests.find((r) => r.method === 'POST' && /\/cancel$/.test(r.path));
  expect(cancel).toBeDefined();
});

describe('the example flow', () => {
  test('holds no token', async () => {
    const text = await readFile(join(PACKAGE, 'examples', 'flux-flow.json'), 'utf8');
    expect(text).not.toMatch(/r8_|token/i);
  });
});

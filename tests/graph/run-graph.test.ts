import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { createRegistry } from '../../blocks/index.js';
import type { BlockContext } from '../../index.js';
import { GraphError, runGraph, type Graph, type NodeRunEvent } from '../../index.js';
import {
  abortOnceCreated,
  contextFor,
  CREDENTIALS,
  creates,
  requestsTo,
  ROOT,
  scaled,
  useEmulator,
} from '../helpers.js';

const local = useEmulator();
const registry = createRegistry();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-graph-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const example = async (name: string): Promise<Graph> =>
  JSON.parse(await readFile(join(ROOT, 'examples', name), 'utf8')) as Graph;
const context = (signal?: AbortSignal): BlockContext => ({
  ...contextFor(local.emulator, {}, signal),
  save: { dir, allowedOrigins: [new URL(local.emulator.url).origin] },
});
const values = (result: Awaited<ReturnType<typeof runGraph>>, node: string, output: string) =>
  result.outputs.filter((o) => o.node === node && o.output === output).map((o) => o.value);

describe('the example graphs, end to end', () => {
  test('generate -> edit -> save: the result flows into the edit, the edit is saved as a valid image', async () => {
    const result = await runGraph(await example('generate-edit-save.json'), { registry, context: context() });
    expect(result.failures).toEqual([]);
    const [generated] = values(result, 'generate', 'result');
    const [edited] = values(result, 'edit', 'result');
    const editCreate = requestsTo(local.emulator, 'POST', /flux-kontext-pro\/predictions$/)[0]!.body as {
      input: Record<string, unknown>;
    };
    expect(editCreate.input.input_image).toBe(generated);
    const [path] = values(result, 'save', 'path') as string[];
    const metadata = await sharp(await readFile(path!)).metadata();
    // Kontext's match_input_image keeps the 3:2 of the generated image.
    expect([metadata.format, metadata.width, metadata.height]).toEqual(['png', 1248, 832]);
    expect(values(result, 'save', 'content_type')).toEqual(['image/png']);
    expect([values(result, 'save', 'width'), values(result, 'save', 'height')]).toEqual([[1248], [832]]);
    const editedBytes = Buffer.from(await (await fetch(edited as string)).arrayBuffer());
    expect(await readFile(path!)).toEqual(editedBytes);
  });

  test('generate four -> save each: the save node runs once per result, four distinct files', async () => {
    const result = await runGraph(await example('generate-four-save-each.json'), { registry, context: context() });
    expect(result.failures).toEqual([]);
    expect(values(result, 'generate', 'result')).toHaveLength(4);
    const paths = values(result, 'save', 'path') as string[];
    expect(new Set(paths).size).toBe(4);
    for (const path of paths) {
      const metadata = await sharp(await readFile(path)).metadata();
      expect([metadata.format, metadata.width, metadata.height]).toEqual(['webp', 1360, 768]);
    }
    expect(creates(local.emulator).created).toBe(1);
  });
});

describe('failures', () => {
  test('a node that yields error stops its downstream; the graph names the node and why', async () => {
    local.plan = { outcome: 'failed', error: 'CUDA out of memory' };
    const graph = await example('generate-edit-save.json');
    const result = await runGraph(graph, { registry, context: context() });
    expect(result.failures).toEqual([
      {
        node: 'generate',
        block: 'ReplicateFluxAdvancedModelBlock',
        error: expect.stringContaining('CUDA out of memory'),
      },
    ]);
    expect(result.stopped).toEqual(['edit', 'save']);
    expect(result.outputs.map((o) => o.node)).toEqual(['generate']);
    expect(creates(local.emulator).sent).toBe(1);
  });

  test('a failure in one branch leaves an independent branch running to its end', async () => {
    const graph: Graph = {
      nodes: [
        { id: 'bad', block_id: 'SaveImageBlock', input_default: { image: 'http://10.0.0.1/secret.png' } },
        {
          id: 'generate',
          block_id: 'ReplicateFluxAdvancedModelBlock',
          input_default: { credentials: CREDENTIALS, prompt: 'works' },
        },
        { id: 'keep', block_id: 'SaveImageBlock', input_default: { store_as: 'data_uri' } },
      ],
      links: [{ source_id: 'generate', source_name: 'result', sink_id: 'keep', sink_name: 'image' }],
    };
    const result = await runGraph(graph, { registry, context: context() });
    expect(result.failures).toEqual([
      {
        node: 'bad',
        block: 'SaveImageBlock',
        error: expect.stringContaining('http://10.0.0.1/secret.png is a private, loopback or link-local address'),
      },
    ]);
    expect(result.stopped).toEqual([]);
    expect(values(result, 'keep', 'content_type')).toEqual(['image/webp']);
  });

  test('a host abort stops every node and cancels running predictions', async () => {
    local.plan = { processingMs: 30_000 };
    const abort = abortOnceCreated(local.emulator);
    const result = await runGraph(await example('generate-edit-save.json'), {
      registry,
      context: context(abort.signal),
    });
    expect(Date.now() - abort.abortedAt()!).toBeLessThan(scaled(3_000));
    expect(result.failures).toEqual([
      {
        node: 'generate',
        block: 'ReplicateFluxAdvancedModelBlock',
        error: expect.stringMatching(/^The run was stopped by the host; prediction [a-z2-7]+ was canceled/),
      },
    ]);
    expect(requestsTo(local.emulator, 'POST', /\/cancel$/)).toHaveLength(1);
  });
});

test('independent nodes run concurrently', async () => {
  local.plan = { processingMs: 800 };
  const node = (id: string) => ({
    id,
    block_id: 'ReplicateFluxAdvancedModelBlock',
    input_default: { credentials: CREDENTIALS, prompt: id, seed: 1 },
  });
  const started = Date.now();
  const result = await runGraph({ nodes: [node('a'), node('b'), node('c')] }, { registry, context: context() });
  expect(result.failures).toEqual([]);
  expect(values(result, 'a', 'seed').concat(values(result, 'b', 'seed'), values(result, 'c', 'seed'))).toEqual([
    1, 1, 1,
  ]);
  // One after another they would take over 2.4 s.
  expect(Date.now() - started).toBeLessThan(1_800);
});

describe('graphs that cannot run are refused before any request', () => {
  const generate = {
    id: 'g',
    block_id: '90f8c45e-e983-4644-aa0b-b4ebe2f531bc',
    input_default: { credentials: CREDENTIALS, prompt: 'x' },
  };
  const save = { id: 's', block_id: 'SaveImageBlock', input_default: {} };
  const link = (source_name: string, sink_name: string, ids = ['g', 's']) => ({
    source_id: ids[0]!,
    source_name,
    sink_id: ids[1]!,
    sink_name,
  });
  test.each<[string, unknown, string]>([
    ['not an object', 'graph', 'Invalid graph: graph: must be an object, got string'],
    ['no nodes', { nodes: [] }, 'Invalid graph: nodes: must have at least 1 item(s)'],
    ['nodes not a list', { nodes: 'g' }, 'Invalid graph: nodes: must be an array, got string'],
    [
      'an unknown block',
      { nodes: [{ id: 'x', block_id: 'NoSuchBlock' }] },
      'Node x: no block with id or name "NoSuchBlock" is registered',
    ],
    ['a node id used twice', { nodes: [generate, { ...save, id: 'g' }] }, 'Node id g is used twice'],
    [
      'a link to a missing node',
      { nodes: [generate], links: [link('result', 'image')] },
      'Link g.result -> s.image: no node s',
    ],
    [
      'a link from an output the block lacks',
      { nodes: [generate, save], links: [link('path', 'image')] },
      'ReplicateFluxAdvancedModelBlock has no output path',
    ],
    [
      'a link to an input the block lacks',
      { nodes: [generate, save], links: [link('result', 'url')] },
      'SaveImageBlock has no input url',
    ],
    [
      'a link from error',
      { nodes: [generate, save], links: [link('error', 'image')] },
      'links from error are not supported',
    ],
    [
      'a cycle',
      {
        nodes: [generate, { ...generate, id: 'h' }],
        links: [link('seed', 'seed', ['g', 'h']), link('seed', 'seed', ['h', 'g'])],
      },
      'The graph has a cycle (g -> h -> g)',
    ],
    [
      'a required input neither set nor linked',
      { nodes: [generate, save] },
      'Node s (SaveImageBlock): required input image is neither set in input_default nor linked',
    ],
    [
      "a fixed input out of the chosen model's range",
      {
        nodes: [
          { ...generate, input_default: { ...generate.input_default, replicate_model_name: 'Flux Pro', guidance: 9 } },
        ],
      },
      'Node g (ReplicateFluxAdvancedModelBlock): guidance: must be <= 5 with Flux Pro',
    ],
    ...['toString', 'constructor', '__proto__', 'hasOwnProperty'].flatMap((name): Array<[string, unknown, string]> => [
      [
        `a link from an inherited name: ${name}`,
        { nodes: [generate, save], links: [link(name, 'image')] },
        `Link g.${name} -> s.image: ReplicateFluxAdvancedModelBlock has no output ${name}`,
      ],
      [
        `a link to an inherited name: ${name}`,
        { nodes: [generate, save], links: [link('result', name)] },
        `Link g.result -> s.${name}: SaveImageBlock has no input ${name}`,
      ],
    ]),
    [
      'a bad fixed input beside a linked one',
      { nodes: [generate, { ...save, input_default: { store_as: 'disk' } }], links: [link('result', 'image')] },
      'Node s (SaveImageBlock): store_as: must be one of "file", "data_uri"',
    ],
  ])('%s', async (_, graph, message) => {
    const run = runGraph(graph, { registry, context: context() });
    await expect(run).rejects.toThrow(GraphError);
    await expect(run).rejects.toThrow(message);
    expect(local.emulator.requests).toHaveLength(0);
  });
});

describe('hostile graphs are refused by the checks, never by a crash', () => {
  // Save Image nodes chained data_uri -> image: a chain of any length is a valid graph shape.
  const chain = (length: number) => ({
    nodes: Array.from({ length }, (_, i) => ({
      id: `n${i}`,
      block_id: 'SaveImageBlock',
      input_default: i ? { store_as: 'data_uri' } : { image: 'ftp://x', store_as: 'data_uri' },
    })),
    links: Array.from({ length: length - 1 }, (_, i) => ({
      source_id: `n${i}`,
      source_name: 'data_uri',
      sink_id: `n${i + 1}`,
      sink_name: 'image',
    })),
  });

  test('a 100,000-node chain closed into a cycle is a GraphError naming a shortened cycle', async () => {
    const graph = chain(100_000);
    graph.links.push({ source_id: 'n99999', source_name: 'data_uri', sink_id: 'n0', sink_name: 'image' });
    const run = runGraph(graph, { registry, context: context() });
    await expect(run).rejects.toThrow(GraphError);
    await expect(run).rejects.toThrow(
      /^The graph has a cycle \(n0 -> n1 -> .* -> n10 -> \.\.\. \(99989 more\) -> n0\)/,
    );
  });

  test("a 100,000-node acyclic chain is checked through to its first node's bad input", async () => {
    const run = runGraph(chain(100_000), { registry, context: context() });
    await expect(run).rejects.toThrow(
      'Node n0 (SaveImageBlock): image: must be an http(s) URL or a data:image/... URI',
    );
    expect(local.emulator.requests).toHaveLength(0);
  });

  test('a failure at the head of a 20,000-node chain stops every node below it', async () => {
    const graph = chain(20_000);
    graph.nodes[0]!.input_default = { image: 'data:image/png;base64,AAAA', store_as: 'data_uri' };
    // Whole, the chain would make 20,000 node runs: past the default cap of 1,000, so it is raised.
    const result = await runGraph(graph, { registry, context: context(), maxNodeRuns: 20_000 });
    expect(result.failures.map((f) => f.node)).toEqual(['n0']);
    expect(result.stopped).toHaveLength(19_999);
  });
});

test('onNodeRun reports each node run starting, its prediction progress, and its end', async () => {
  const events: NodeRunEvent[] = [];
  const result = await runGraph(await example('generate-edit-save.json'), {
    registry,
    context: context(),
    onNodeRun: (event) => events.push(event),
  });
  expect(result.failures).toEqual([]);
  for (const node of ['generate', 'edit', 'save']) {
    const phases = events.filter((e) => e.node === node).map((e) => e.phase);
    expect([phases[0], phases.at(-1)]).toEqual(['started', 'ended']);
    expect(phases.filter((p) => p !== 'progress')).toEqual(['started', 'ended']);
  }
  const progress = events.flatMap((e) => (e.phase === 'progress' && e.node === 'generate' ? [e.progress] : []));
  expect(progress.at(-1)).toMatchObject({ status: 'succeeded', percent: 100 });
  expect(events.some((e) => e.node === 'save' && e.phase === 'progress')).toBe(false);
});

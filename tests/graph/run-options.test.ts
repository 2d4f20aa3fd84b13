import { getEventListeners } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { createRegistry } from '../../blocks/index.js';
import { GraphError } from '../../shared/graph/check-graph.js';
import { runGraph, type GraphOutput } from '../../shared/graph/run-graph.js';

// runGraph's options with Save Image nodes on data: URIs: no network, nothing billed.
const registry = createRegistry();
let image = '';
beforeAll(async () => {
  image = `data:image/png;base64,${(
    await sharp({ create: { width: 2, height: 2, channels: 3, background: '#0f0' } })
      .png()
      .toBuffer()
  ).toString('base64')}`;
});

/** n0 saves the image as a data: URI, n1 saves what n0 gave. */
const pair = () => ({
  nodes: [
    { id: 'n0', block_id: 'SaveImageBlock', input_default: { image, store_as: 'data_uri' } },
    { id: 'n1', block_id: 'SaveImageBlock', input_default: { store_as: 'data_uri' } },
  ],
  links: [{ source_id: 'n0', source_name: 'data_uri', sink_id: 'n1', sink_name: 'image' }],
});

describe('onOutput', () => {
  test('sees every output in order; one that throws is a failure of its node, and the run still ends', async () => {
    const seen: GraphOutput[] = [];
    const result = await runGraph(pair(), {
      registry,
      onOutput: (output) => {
        seen.push(output);
        if (output.node === 'n1') throw new Error('boom');
      },
    });
    // n1 starts on n0's first output, so the two may interleave; each node's outputs keep their
    // order, and n1's first output throws: nothing of n1 follows it.
    const of = (node: string) => seen.filter((o) => o.node === node).map((o) => o.output);
    expect(of('n0')).toEqual(['data_uri', 'content_type', 'width', 'height']);
    expect(of('n1')).toEqual(['data_uri']);
    expect(result.outputs).toEqual(seen);
    expect(result.failures).toEqual([{ node: 'n1', block: 'SaveImageBlock', error: 'Internal error: boom' }]);
    expect(result.stopped).toEqual([]);
  });

  test('a thrown value that is not an Error is named by its text', async () => {
    const result = await runGraph(pair(), {
      registry,
      onOutput: () => {
        throw 'plain';
      },
    });
    expect(result.failures).toEqual([{ node: 'n0', block: 'SaveImageBlock', error: 'Internal error: plain' }]);
  });
});

describe('runNode', () => {
  test("replaces runBlock: it gets each node's block, fixed and linked inputs, and a context with the node's signal", async () => {
    const calls: Array<{ block: string; input: Record<string, unknown>; signal: boolean }> = [];
    const result = await runGraph(pair(), {
      registry,
      context: { save: { dir: 'unused' } },
      async *runNode(block, input, context) {
        calls.push({ block: block.name, input, signal: context.signal instanceof AbortSignal });
        expect(context.save).toEqual({ dir: 'unused' });
        yield ['data_uri', `from ${String(input.store_as)}`];
      },
    });
    expect(calls).toEqual([
      { block: 'SaveImageBlock', input: { image, store_as: 'data_uri' }, signal: true },
      { block: 'SaveImageBlock', input: { store_as: 'data_uri', image: 'from data_uri' }, signal: true },
    ]);
    expect(result.outputs.map((o) => o.value)).toEqual(['from data_uri', 'from data_uri']);
  });

  test('an error output stops the downstream node, which is reported stopped and never run', async () => {
    const ran: string[] = [];
    const result = await runGraph(pair(), {
      registry,
      async *runNode(_, input) {
        ran.push(String(input.image).slice(0, 5));
        yield ['error', 'no luck'];
      },
    });
    expect(ran).toEqual(['data:']);
    expect(result.failures).toEqual([{ node: 'n0', block: 'SaveImageBlock', error: 'no luck' }]);
    expect(result.stopped).toEqual(['n1']);
  });

  test('outputs other than the linked one do not feed the link', async () => {
    const result = await runGraph(pair(), {
      registry,
      async *runNode(_, input) {
        yield input.image === image ? ['path', 'out/x.png'] : ['data_uri', 'n1 ran'];
      },
    });
    expect(result.outputs.map((o) => `${o.node}.${o.output}`)).toEqual(['n0.path']);
  });
});

describe('flows and stops', () => {
  const save = (id: string, input_default: Record<string, unknown> = { store_as: 'data_uri' }) => ({
    id,
    block_id: 'SaveImageBlock',
    input_default,
  });
  const link = (source_id: string, sink_id: string, source_name = 'data_uri', sink_name = 'image') => ({
    source_id,
    source_name,
    sink_id,
    sink_name,
  });

  test('a failure stops each node downstream once, also one reached by two paths', async () => {
    const graph = {
      nodes: [save('n0', { image, store_as: 'data_uri' }), save('n1'), save('n2'), save('n3')],
      links: [link('n0', 'n1'), link('n0', 'n2'), link('n1', 'n3'), link('n2', 'n3')],
    };
    const result = await runGraph(graph, {
      registry,
      async *runNode() {
        yield ['error', 'failed'];
      },
    });
    expect(result.stopped).toEqual(['n1', 'n2', 'n3']);
  });

  test('values of two linked inputs pair up in arrival order', async () => {
    const graph = {
      nodes: [save('a', { image, store_as: 'data_uri' }), save('b', { image, store_as: 'file' }), save('c', {})],
      links: [link('a', 'c', 'data_uri', 'image'), link('b', 'c', 'path', 'store_as')],
    };
    const runs: unknown[] = [];
    await runGraph(graph, {
      registry,
      async *runNode(_, input) {
        if (input.store_as === 'data_uri')
          yield* [
            ['data_uri', 'a1'],
            ['data_uri', 'a2'],
          ] as const;
        else if (input.store_as === 'file') {
          await new Promise((resolve) => setTimeout(resolve, 20));
          yield* [
            ['path', 'b1'],
            ['path', 'b2'],
          ] as const;
        } else runs.push(input);
      },
    });
    expect(runs).toEqual([
      { image: 'a1', store_as: 'b1' },
      { image: 'a2', store_as: 'b2' },
    ]);
  });

  test('outputs a node yields after it was stopped from upstream are not its own: left out', async () => {
    const graph = { nodes: [save('n0', { image, store_as: 'data_uri' }), save('n1')], links: [link('n0', 'n1')] };
    const result = await runGraph(graph, {
      registry,
      async *runNode(_, input) {
        if (input.image === image) {
          yield ['data_uri', 'x'];
          await new Promise((resolve) => setTimeout(resolve, 20));
          yield ['error', 'late failure'];
        } else {
          // Ignores its abort signal, as a slow block might.
          await new Promise((resolve) => setTimeout(resolve, 80));
          yield ['data_uri', 'from n1'];
        }
      },
    });
    expect(result.outputs.map((o) => `${o.node}.${o.output}`)).toEqual(['n0.data_uri', 'n0.error']);
    expect(result.stopped).toEqual(['n1']);
  });

  test('past maxPredictions one failure names the cap, and every node not run is listed stopped', async () => {
    const generate = (id: string) => ({
      id,
      block_id: 'ReplicateFluxAdvancedModelBlock',
      input_default: { credentials: { provider: 'replicate', id: 'c', type: 'api_key' }, prompt: 'x' },
    });
    const result = await runGraph(
      { nodes: ['g1', 'g2', 'g3'].map(generate) },
      {
        registry,
        maxPredictions: 1,
        concurrency: 1,
        async *runNode() {
          yield ['seed', 1];
        },
      },
    );
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({
      node: 'g2',
      error: expect.stringMatching(/^Not run: the graph run reached its cap of 1 predictions/),
    });
    expect(result.stopped).toEqual(['g2', 'g3']);
  });

  test("onNodeRun gets progress, the host's own onProgress too, and a host runner without one is fine", async () => {
    const hostProgress: unknown[] = [];
    for (const runner of [{ onProgress: (event: unknown) => hostProgress.push(event) }, {}, undefined]) {
      const phases: string[] = [];
      const result = await runGraph(
        { nodes: [save('n0', { image, store_as: 'data_uri' })] },
        {
          registry,
          context: runner && { runner },
          onNodeRun: (event) => phases.push(event.phase),
          async *runNode(_, __, context) {
            context.runner?.onProgress?.({ predictionId: 'p', status: 'processing', percent: 50 });
            yield ['data_uri', 'x'];
          },
        },
      );
      expect(result.failures).toEqual([]);
      expect(phases).toEqual(['started', 'progress', 'ended']);
    }
    expect(hostProgress).toEqual([{ predictionId: 'p', status: 'processing', percent: 50 }]);
  });
});

describe('local image files (context.files)', () => {
  test('paths in fixed inputs are read before the check; a path outside allowDir is a GraphError naming the node', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'graph-files-'));
    try {
      await writeFile(join(dir, 'in.png'), Buffer.from(image.split(',')[1]!, 'base64'));
      const seen: unknown[] = [];
      const result = await runGraph(
        { nodes: [{ id: 'n0', block_id: 'SaveImageBlock', input_default: { image: 'in.png', store_as: 'data_uri' } }] },
        {
          registry,
          context: { files: { allowDir: dir } },
          async *runNode(_, input) {
            seen.push(String(input.image).slice(0, 22));
            yield ['data_uri', 'x'];
          },
        },
      );
      expect(result.failures).toEqual([]);
      expect(seen).toEqual(['data:image/png;base64,']);
      const outside = runGraph(
        { nodes: [{ id: 'n0', block_id: 'SaveImageBlock', input_default: { image: '../in.png' } }] },
        { registry, context: { files: { allowDir: dir } } },
      );
      await expect(outside).rejects.toThrow(GraphError);
      await expect(outside).rejects.toThrow(
        /^Node n0 \(SaveImageBlock\): image: the local file \.\.\/in\.png is outside /,
      );
      // What is no graph, or names no known block, is left for the graph check to refuse.
      const files = { allowDir: dir };
      await expect(runGraph(null, { registry, context: { files } })).rejects.toThrow(
        'Invalid graph: graph: must be an object',
      );
      await expect(runGraph({}, { registry, context: { files } })).rejects.toThrow('Invalid graph: nodes: ');
      await expect(
        runGraph(
          { nodes: [{ id: 'x', block_id: 'NoSuchBlock', input_default: { image: 'in.png' } }] },
          { registry, context: { files } },
        ),
      ).rejects.toThrow('Node x: no block with id or name "NoSuchBlock" is registered');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

test("a finished run leaves no listener on the host's signal", async () => {
  const host = new AbortController();
  await runGraph(pair(), {
    registry,
    context: { signal: host.signal },
    async *runNode() {
      yield ['data_uri', 'x'];
    },
  });
  expect(getEventListeners(host.signal, 'abort')).toHaveLength(0);
});

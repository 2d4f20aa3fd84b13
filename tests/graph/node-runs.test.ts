import { describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { GraphError, runGraph, type Graph, type NodeRunEvent } from '../../index.js';
import { EXAMPLE_IMAGE } from '../../shared/framework/block.js';
import { checkGraph } from '../../shared/graph/check-graph.js';
import { abortWhen, collect, contextFor, CREDENTIALS, fanOutGraph, useEmulator } from '../helpers.js';

const local = useEmulator();
const registry = createRegistry();

/** Node runs a graph run started, by listening to its `started` events. */
function startedCounter() {
  let started = 0;
  return {
    onNodeRun: (event: NodeRunEvent) => void (event.phase === 'started' && (started += 1)),
    started: () => started,
  };
}

describe('maxNodeRuns before anything runs', () => {
  test('6 levels of 10 Save Image nodes, each linked from every node above (1,111,111 runs), are refused before any node runs, naming the node', async () => {
    const counter = startedCounter();
    const refusal = runGraph(fanOutGraph(6, 10), { registry, context: contextFor(local.emulator), ...counter });
    // 1 + 10 + 100 runs by level 2; level 3's nodes run 100 times each: the 9th takes it to 1,011.
    await expect(refusal).rejects.toThrow(GraphError);
    await expect(refusal).rejects.toMatchObject({
      node: 'l3-8',
      message:
        'Node l3-8 (SaveImageBlock): the graph could make 1011 node runs by this node, past the limit of 1000 (maxNodeRuns). Each value a node yields runs every node linked to it once, so runs multiply along links; link fewer nodes to each other, or raise maxNodeRuns (--max-node-runs) if the graph is meant to run that many.',
    });
    expect(counter.started()).toBe(0);
  });

  test('a graph of exactly maxNodeRuns runs runs whole; one run more is refused', async () => {
    // 1 + 10 + 100 = 111 node runs.
    const counter = startedCounter();
    const result = await runGraph(fanOutGraph(2, 10), { registry, maxNodeRuns: 111, ...counter });
    expect(result.failures).toEqual([]);
    expect(counter.started()).toBe(111);
    await expect(runGraph(fanOutGraph(2, 10), { registry, maxNodeRuns: 110 })).rejects.toMatchObject({
      node: 'l2-9',
    });
  });

  test("a block's outputsPerRun multiplies: four images from one prediction run the edit four times", () => {
    const graph: Graph = {
      nodes: [
        {
          id: 'generate',
          block_id: 'ReplicateFluxAdvancedModelBlock',
          input_default: { credentials: CREDENTIALS, prompt: 'a fox', num_outputs: 4 },
        },
        {
          id: 'edit',
          block_id: 'ReplicateFluxKontextBlock',
          input_default: { credentials: CREDENTIALS, prompt: 'snow' },
        },
        { id: 'save', block_id: 'SaveImageBlock', input_default: {} },
      ],
      links: [
        { source_id: 'generate', source_name: 'result', sink_id: 'edit', sink_name: 'input_image' },
        { source_id: 'edit', source_name: 'result', sink_id: 'save', sink_name: 'image' },
      ],
    };
    // 1 + 4 + 4 = 9.
    expect(checkGraph(graph, registry, { maxNodeRuns: 9 }).nodes.size).toBe(3);
    expect(() => checkGraph(graph, registry, { maxNodeRuns: 8 })).toThrow(
      /^Node save \(SaveImageBlock\): the graph could make 9 node runs/,
    );
  });

  test.each([0, 1.5, Number.POSITIVE_INFINITY])('maxNodeRuns %p is refused before anything runs', async (value) => {
    await expect(runGraph(fanOutGraph(1, 1), { registry, maxNodeRuns: value })).rejects.toThrow(
      new GraphError(`maxNodeRuns must be a positive whole number, not ${value}`),
    );
  });
});

describe('maxNodeRuns while running', () => {
  test("past the cap no node run starts, for outputs no check can count (Replicate Model's result)", async () => {
    // The check counts the model's `result` once (2 runs); the model makes 4 images (5 runs).
    const graph: Graph = {
      nodes: [
        {
          id: 'model',
          block_id: 'ReplicateModelBlock',
          input_default: {
            credentials: CREDENTIALS,
            model: 'black-forest-labs/flux-schnell',
            input: { prompt: 'a fox', num_outputs: 4 },
          },
        },
        { id: 'save', block_id: 'SaveImageBlock', input_default: { store_as: 'data_uri' } },
      ],
      links: [{ source_id: 'model', source_name: 'result', sink_id: 'save', sink_name: 'image' }],
    };
    const counter = startedCounter();
    const context = { ...contextFor(local.emulator), save: { allowedOrigins: [new URL(local.emulator.url).origin] } };
    const result = await runGraph(graph, { registry, context, maxNodeRuns: 3, ...counter });
    expect(counter.started()).toBe(3);
    expect(result.failures).toEqual([
      {
        node: 'save',
        block: 'SaveImageBlock',
        error:
          'Not run: the graph run reached its cap of 3 node runs (maxNodeRuns); no further node runs were started. Raise maxNodeRuns (--max-node-runs) if the graph is meant to run more.',
      },
    ]);
    expect(result.stopped).toEqual(['save']);
    expect(result.outputs.filter((o) => o.node === 'save' && o.output === 'data_uri')).toHaveLength(2);
  });
});

describe('aborting a graph of data: URI runs', () => {
  test('no node run starts after the abort, and a timer can fire while they run', async () => {
    // 11,111 runs that never wait on I/O; the abort comes from a timer, which needs the event loop to turn.
    let started = 0;
    let afterAbort = 0;
    const { signal } = abortWhen(() => started >= 20);
    const result = await runGraph(fanOutGraph(4, 10), {
      registry,
      context: { signal },
      maxNodeRuns: 20_000,
      onNodeRun: (event) => {
        if (event.phase !== 'started') return;
        started += 1;
        if (signal.aborted) afterAbort += 1;
      },
    });
    expect(signal.aborted).toBe(true);
    expect(afterAbort).toBe(0);
    expect(started).toBeLessThan(1_000);
    expect(result.outputs.filter((o) => o.output === 'data_uri').length).toBeLessThan(1_000);
  });

  test('a Save Image run of a data: URI whose signal is already aborted reads nothing', async () => {
    const controller = new AbortController();
    controller.abort('interrupted (Ctrl-C)');
    const outputs = await collect(
      registry.get('SaveImageBlock')!,
      { image: EXAMPLE_IMAGE, store_as: 'data_uri' },
      {
        signal: controller.signal,
      },
    );
    expect(outputs).toEqual([['error', expect.stringMatching(/^Reading the data: URI was interrupted \(Ctrl-C\)/)]]);
  });
});

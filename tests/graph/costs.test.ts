import { describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { GraphError, runGraph, type Graph } from '../../index.js';
import { describeEstimate, estimateGraph } from '../../shared/graph/estimate.js';
import { describeRunCosts } from '../../shared/graph/run-cost.js';
import { contextFor, CREDENTIALS, creates, useEmulator } from '../helpers.js';

const local = useEmulator();
const registry = createRegistry();

/** Flux Schnell making `images` images, each edited with `edit` (a Kontext model), each edit saved. */
const generateEditSave = (images: number, edit = 'Flux Kontext Pro'): Graph => ({
  nodes: [
    {
      id: 'generate',
      block_id: 'ReplicateFluxAdvancedModelBlock',
      input_default: {
        credentials: CREDENTIALS,
        prompt: 'a fox',
        replicate_model_name: 'Flux Schnell',
        num_outputs: images,
      },
    },
    {
      id: 'edit',
      block_id: 'ReplicateFluxKontextBlock',
      input_default: { credentials: CREDENTIALS, prompt: 'as a watercolor', model: edit },
    },
    { id: 'save', block_id: 'SaveImageBlock', input_default: {} },
  ],
  links: [
    { source_id: 'generate', source_name: 'result', sink_id: 'edit', sink_name: 'input_image' },
    { source_id: 'edit', source_name: 'result', sink_id: 'save', sink_name: 'image' },
  ],
});

describe('estimateGraph', () => {
  test('counts num_outputs × fan-out × the price per image, per node and in total', () => {
    const estimate = estimateGraph(generateEditSave(3), registry);
    expect(estimate.nodes).toEqual([
      expect.objectContaining({ node: 'generate', runs: 1, imagesPerRun: 3, usdPerImage: 0.003, usd: 0.009 }),
      expect.objectContaining({ node: 'edit', runs: 3, imagesPerRun: 1, usdPerImage: 0.04, usd: 0.12 }),
      expect.objectContaining({ node: 'save', runs: 3, usd: 0 }),
    ]);
    expect(estimate).toMatchObject({ knownUsd: 0.129, unknown: [] });
    expect(describeEstimate(estimate).at(-1)).toBe('Total, worst case: $0.129');
  });

  test('the default num_outputs (1) and a Flux model without num_outputs count one image per run', () => {
    const graph = generateEditSave(1);
    delete (graph.nodes[0]!.input_default as Record<string, unknown>).num_outputs;
    expect(estimateGraph(graph, registry).knownUsd).toBe(0.043);
  });

  test('an unknown price is never guessed: the total is "at least", naming the nodes', () => {
    const estimate = estimateGraph(generateEditSave(2, 'Flux Kontext Dev'), registry);
    expect(estimate.nodes[1]).toMatchObject({ node: 'edit', runs: 2, usdPerImage: null, usd: null });
    expect(estimate).toMatchObject({ knownUsd: 0.006, unknown: ['edit'] });
    expect(describeEstimate(estimate)).toContain(
      'edit (ReplicateFluxKontextBlock, black-forest-labs/flux-kontext-dev): 2 runs x 1 image, price unknown',
    );
    expect(describeEstimate(estimate).at(-1)).toBe('Total, worst case: at least $0.006, 1 node unknown (edit)');
  });

  test("a node after a model without num_outputs runs once per image it makes (1), not the block's most (4)", () => {
    const graph: Graph = {
      nodes: [
        {
          id: 'count',
          block_id: 'ReplicateFluxAdvancedModelBlock',
          input_default: { credentials: CREDENTIALS, prompt: 'a', replicate_model_name: 'Flux Pro' },
        },
        {
          id: 'many',
          block_id: 'ReplicateFluxAdvancedModelBlock',
          input_default: { credentials: CREDENTIALS, replicate_model_name: 'Flux Dev', num_outputs: 1 },
        },
      ],
      links: [{ source_id: 'count', source_name: 'result', sink_id: 'many', sink_name: 'prompt' }],
    };
    // Flux Pro takes no num_outputs: one image, so "many" runs once, with 1 image: 0.055 + 0.025.
    expect(estimateGraph(graph, registry).knownUsd).toBe(0.08);
  });
});

describe('runGraph maxCostUsd', () => {
  test('a graph whose worst case passes it is refused before any request', async () => {
    await expect(
      runGraph(generateEditSave(4), { registry, context: contextFor(local.emulator), maxCostUsd: 0.1 }),
    ).rejects.toThrow(
      new GraphError(
        'Not run: the graph could cost $0.172 in the worst case, past the limit of $0.1 (maxCostUsd, --max-cost); the most is node edit ($0.16). Ask for fewer images (num_outputs), link fewer nodes, pick a cheaper model, or raise the limit.',
      ),
    );
    expect(local.emulator.requests).toEqual([]);
  });

  test('a graph with an unknown price cannot be held to a limit: refused, naming the node', async () => {
    await expect(
      runGraph(generateEditSave(1, 'Flux Kontext Dev'), {
        registry,
        context: contextFor(local.emulator),
        maxCostUsd: 10,
      }),
    ).rejects.toThrow(
      "Not run: the graph's worst case is at least $0.003, 1 node unknown (edit), so it cannot be held to $10",
    );
    expect(local.emulator.requests).toEqual([]);
  });

  test.each([0, -1, Number.NaN, Infinity])('maxCostUsd %p is refused', async (value) => {
    await expect(
      runGraph(generateEditSave(1), { registry, context: contextFor(local.emulator), maxCostUsd: value }),
    ).rejects.toThrow(new GraphError(`maxCostUsd must be a positive number of USD, not ${value}`));
    expect(local.emulator.requests).toEqual([]);
  });

  test('a graph at it runs', async () => {
    const { nodes, links } = generateEditSave(2);
    // Exactly the limit: 2 × $0.003 + 2 × $0.04.
    const result = await runGraph(
      { nodes: nodes.slice(0, 2), links: links!.slice(0, 1) },
      { registry, context: contextFor(local.emulator), maxCostUsd: 0.086 },
    );
    expect(result.failures).toEqual([]);
    expect(creates(local.emulator).created).toBe(3);
  });
});

describe('runGraph costs (the actual cost after the run)', () => {
  test('one entry per prediction of a priced node: outputs x the price per image; Save Image has none', async () => {
    // The save node's downloads are refused (no trusted origins here): it has no price either way.
    const result = await runGraph(generateEditSave(2), { registry, context: contextFor(local.emulator) });
    const byNode = result.costs.map(({ node, model, quantity, usd }) => ({ node, model, quantity, usd }));
    expect(byNode).toEqual([
      { node: 'generate', model: 'black-forest-labs/flux-schnell', quantity: 2, usd: 0.006 },
      { node: 'edit', model: 'black-forest-labs/flux-kontext-pro', quantity: 1, usd: 0.04 },
      { node: 'edit', model: 'black-forest-labs/flux-kontext-pro', quantity: 1, usd: 0.04 },
    ]);
    expect(describeRunCosts(result.costs)).toEqual([
      'generate (ReplicateFluxAdvancedModelBlock): black-forest-labs/flux-schnell: 2 images x $0.003 = $0.006',
      'edit (ReplicateFluxKontextBlock): 2 runs, $0.08',
      'Actual cost: $0.086',
    ]);
  });

  test('an unknown price is unknown, and the total "at least"', async () => {
    const graph = generateEditSave(1, 'Flux Kontext Dev');
    const result = await runGraph(graph, { registry, context: contextFor(local.emulator) });
    expect(result.costs.map(({ node, usd, unknown }) => ({ node, usd, unknown }))).toEqual([
      { node: 'generate', usd: 0.003, unknown: undefined },
      { node: 'edit', usd: null, unknown: 'no known price for black-forest-labs/flux-kontext-dev' },
    ]);
    expect(describeRunCosts(result.costs).at(-1)).toBe('Actual cost: at least $0.003, unknown for 1 node (edit)');
  });
});

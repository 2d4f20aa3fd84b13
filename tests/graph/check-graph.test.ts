import { describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { checkGraph, GraphError } from '../../shared/graph/check-graph.js';
import { CREDENTIALS } from '../helpers.js';

// checkGraph alone: no emulator, nothing runs.
const registry = createRegistry();

/** Save Image nodes n0..n(length-1), each one's data_uri linked to the next one's image; n0's image fixed. */
function chain(length: number) {
  return {
    nodes: Array.from({ length }, (_, i) => ({
      id: `n${i}`,
      block_id: 'SaveImageBlock',
      input_default: i ? { store_as: 'data_uri' } : { image: 'https://a.test/x.png', store_as: 'data_uri' },
    })),
    links: Array.from({ length: length - 1 }, (_, i) => ({
      source_id: `n${i}`,
      source_name: 'data_uri',
      sink_id: `n${i + 1}`,
      sink_name: 'image',
    })),
  };
}

/** A chain whose last node also feeds its first: a cycle through every node. */
function ring(length: number) {
  const graph = chain(length);
  graph.links.push({ source_id: `n${length - 1}`, source_name: 'data_uri', sink_id: 'n0', sink_name: 'image' });
  return graph;
}

/** The GraphError checkGraph refuses `graph` with; fails the test if it accepts it or throws anything else. */
const refusal = (graph: unknown) => {
  try {
    checkGraph(graph, registry);
  } catch (error) {
    expect(error).toBeInstanceOf(GraphError);
    return error as GraphError;
  }
  throw new Error('checkGraph accepted the graph');
};
const messageOf = (graph: unknown) => refusal(graph).message;

describe('cycles', () => {
  test('a cycle of up to 12 ids is shown whole; a longer one shortened, its last id kept', () => {
    expect(messageOf(ring(11))).toBe(
      `The graph has a cycle (${[...Array.from({ length: 11 }, (_, i) => `n${i}`), 'n0'].join(' -> ')}): the reference runner runs acyclic graphs only`,
    );
    expect(messageOf(ring(12))).toBe(
      `The graph has a cycle (${[...Array.from({ length: 11 }, (_, i) => `n${i}`), '... (1 more)', 'n0'].join(' -> ')}): the reference runner runs acyclic graphs only`,
    );
  });

  test('the cycle shown starts where it closes, without the path that led to it', () => {
    const graph = chain(4);
    graph.links.push({ source_id: 'n3', source_name: 'data_uri', sink_id: 'n2', sink_name: 'image' });
    expect(messageOf(graph)).toBe(
      'The graph has a cycle (n2 -> n3 -> n2): the reference runner runs acyclic graphs only',
    );
  });

  test('a node reached twice without a cycle is no cycle', () => {
    // n0 feeds n1 and n2; both feed n3 (a Save Image node run once per value).
    const graph = chain(2);
    graph.nodes.push(
      { id: 'n2', block_id: 'SaveImageBlock', input_default: { store_as: 'data_uri' } },
      { id: 'n3', block_id: 'SaveImageBlock', input_default: { store_as: 'data_uri' } },
    );
    graph.links.push(
      { source_id: 'n0', source_name: 'data_uri', sink_id: 'n2', sink_name: 'image' },
      { source_id: 'n1', source_name: 'data_uri', sink_id: 'n3', sink_name: 'image' },
      { source_id: 'n2', source_name: 'data_uri', sink_id: 'n3', sink_name: 'image' },
    );
    const checked = checkGraph(graph, registry);
    expect([...checked.nodes.keys()]).toEqual(['n0', 'n1', 'n2', 'n3']);
    expect(checked.linksFrom.get('n0')?.map((l) => l.sink_id)).toEqual(['n1', 'n2']);
    expect(checked.nodes.get('n3')?.linked).toEqual(new Set(['image']));
    expect(checked.nodes.get('n0')?.linked).toEqual(new Set());
  });
});

describe('what a checked graph holds', () => {
  test("each node's block, fixed inputs and linked inputs; links by their source", () => {
    const checked = checkGraph(chain(3), registry);
    const n1 = checked.nodes.get('n1')!;
    expect(n1.block.name).toBe('SaveImageBlock');
    expect(n1.defaults).toEqual({ store_as: 'data_uri' });
    expect(checked.linksFrom.get('n2')).toBeUndefined();
    expect(checked.linksFrom.get('n1')).toEqual([
      { source_id: 'n1', source_name: 'data_uri', sink_id: 'n2', sink_name: 'image' },
    ]);
  });

  test('a node without input_default has none, and may be fed by links alone', () => {
    const graph = chain(2);
    delete (graph.nodes[1] as { input_default?: unknown }).input_default;
    expect(checkGraph(graph, registry).nodes.get('n1')!.defaults).toEqual({});
  });
});

describe('refusals name the node or link', () => {
  test('a missing source node is named, as is a missing sink', () => {
    const graph = chain(2);
    graph.links.push({ source_id: 'gone', source_name: 'data_uri', sink_id: 'n1', sink_name: 'image' });
    expect(messageOf(graph)).toBe('Link gone.data_uri -> n1.image: no node gone');
  });

  test('several missing required inputs are all named', () => {
    const graph = { nodes: [{ id: 'g', block_id: 'ReplicateFluxAdvancedModelBlock' }] };
    expect(messageOf(graph)).toMatch(
      /^Node g \(ReplicateFluxAdvancedModelBlock\): required input (\w+, )+\w+ is neither set in input_default nor linked$/,
    );
  });
});

describe('more cycles', () => {
  test("a cycle through a node's second link is found", () => {
    // n0 feeds n1 (a dead end) and n2; n2 feeds n0.
    const graph = chain(2);
    graph.nodes.push({ id: 'n2', block_id: 'SaveImageBlock', input_default: { store_as: 'data_uri' } });
    graph.links.push({ source_id: 'n0', source_name: 'data_uri', sink_id: 'n2', sink_name: 'image' });
    graph.links.push({ source_id: 'n2', source_name: 'data_uri', sink_id: 'n0', sink_name: 'image' });
    expect(messageOf(graph)).toBe(
      'The graph has a cycle (n0 -> n2 -> n0): the reference runner runs acyclic graphs only',
    );
  });

  test('40 stacked diamonds (2^40 paths) are checked by visiting each node once', () => {
    const nodes = [
      { id: 'd0', block_id: 'SaveImageBlock', input_default: { image: 'https://a.test/x.png', store_as: 'data_uri' } },
    ];
    const links: Array<{ source_id: string; source_name: string; sink_id: string; sink_name: string }> = [];
    for (let i = 0; i < 40; i++) {
      for (const id of [`l${i}`, `r${i}`, `d${i + 1}`])
        nodes.push({
          id,
          block_id: 'SaveImageBlock',
          input_default: { store_as: 'data_uri' },
        } as (typeof nodes)[number]);
      for (const [from, to] of [
        [`d${i}`, `l${i}`],
        [`d${i}`, `r${i}`],
        [`l${i}`, `d${i + 1}`],
        [`r${i}`, `d${i + 1}`],
      ]) {
        links.push({ source_id: from!, source_name: 'data_uri', sink_id: to!, sink_name: 'image' });
      }
    }
    // 2^40 node runs in the worst case: the fan-out check is let through to reach the cycle check's cost.
    expect(checkGraph({ nodes, links }, registry, { maxNodeRuns: Number.MAX_SAFE_INTEGER }).nodes.size).toBe(121);
  });
});

describe('GraphError', () => {
  test('is named GraphError and says which node or link each refusal is about', () => {
    const graph = chain(2);
    expect(refusal({ nodes: [{ id: 'x', block_id: 'NoSuchBlock' }] })).toMatchObject({ name: 'GraphError', node: 'x' });
    expect(refusal({ nodes: [...graph.nodes, { ...graph.nodes[1]! }] })).toMatchObject({ node: 'n1' });
    const missing = { source_id: 'n0', source_name: 'data_uri', sink_id: 'gone', sink_name: 'image' };
    expect(refusal({ ...graph, links: [missing] })).toMatchObject({ link: missing });
    const noOutput = { source_id: 'n0', source_name: 'picture', sink_id: 'n1', sink_name: 'image' };
    expect(refusal({ ...graph, links: [noOutput] })).toMatchObject({ link: noOutput });
    const fromError = { source_id: 'n0', source_name: 'error', sink_id: 'n1', sink_name: 'image' };
    expect(refusal({ ...graph, links: [fromError] })).toMatchObject({ link: fromError });
    const noInput = { source_id: 'n0', source_name: 'data_uri', sink_id: 'n1', sink_name: 'picture' };
    expect(refusal({ ...graph, links: [noInput] })).toMatchObject({ link: noInput });
    const badDefault = chain(2);
    badDefault.nodes[1]!.input_default = { store_as: 'disk' };
    expect(refusal(badDefault)).toMatchObject({
      node: 'n1',
      message: 'Node n1 (SaveImageBlock): store_as: must be one of "file", "data_uri"',
    });
  });

  test('names the node or the link it is about, for editors that mark it, and leaves the other empty', () => {
    const graph = {
      nodes: [
        {
          id: 'g',
          block_id: 'ReplicateFluxAdvancedModelBlock',
          input_default: { credentials: CREDENTIALS, prompt: 'x' },
        },
        { id: 's', block_id: 'SaveImageBlock' },
      ],
    };
    expect(refusal(graph)).toMatchObject({ node: 's', link: undefined });
    const link = { source_id: 'g', source_name: 'error', sink_id: 's', sink_name: 'image' };
    expect(refusal({ ...graph, links: [link] })).toMatchObject({ node: undefined, link });
  });
});

describe('node ids', () => {
  const saveNode = (id: string) => ({
    id,
    block_id: 'SaveImageBlock',
    input_default: { image: 'https://a.test/x.png' },
  });

  test('names of every object (__proto__, constructor, prototype, toString) are refused, naming the node', () => {
    for (const id of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty']) {
      expect(refusal({ nodes: [saveNode(id)] })).toMatchObject({
        node: id,
        message: `Node id "${id}" is not allowed: ${id} is a name every JavaScript object has: pick another, e.g. "generate"`,
      });
    }
  });

  test('an id with spaces, slashes, dots or over 64 characters is refused, saying what is allowed', () => {
    for (const id of ['my node', 'a/b', '../x', 'a.b', 'é', 'x'.repeat(65)]) {
      const error = refusal({ nodes: [saveNode(id)] });
      expect(error.node).toBe(id);
      expect(error.message).toMatch(/^Node id ".*" is not allowed: use 1 to 64 letters, digits, _ or -, e.g. a UUID/);
    }
    expect(messageOf({ nodes: [saveNode('y'.repeat(1000))] })).toBe(
      `Node id "${'y'.repeat(64)}..." is not allowed: use 1 to 64 letters, digits, _ or -, e.g. a UUID or "generate"`,
    );
  });

  test("AutoGPT's UUIDs, the studio's n1 and 64-character ids pass", () => {
    const ids = ['0f6a7a3e-7a2b-4c2e-9d8b-3f1e2d4c5b6a', 'n1', 'save_image-2', 'z'.repeat(64), 'Constructor'];
    expect([...checkGraph({ nodes: ids.map(saveNode) }, registry).nodes.keys()]).toEqual(ids);
  });
});

import type { Block } from '../framework/block.js';

/** Node runs one graph run may start unless the host allows more (`maxNodeRuns`). */
export const DEFAULT_MAX_NODE_RUNS = 1_000;

/** What {@link worstCaseNodeRuns} reads of a node: its block and the inputs fed by links. */
export interface FanOutNode {
  readonly id: string;
  readonly block: Pick<Block, 'outputsPerRun'>;
  readonly linked: ReadonlySet<string>;
}

/** What it reads of a link. */
export interface FanOutLink {
  readonly source_name: string;
  readonly sink_id: string;
  readonly sink_name: string;
}

/** Where a graph's worst case passed the limit: the node, and the node runs counted by then. */
export interface FanOutExcess {
  readonly node: string;
  readonly runs: number;
}

/**
 * Bounds the node runs of an acyclic graph before anything runs, as `runGraph` runs nodes:
 * a node without linked inputs runs once; a value yielded on an output goes along each of its
 * links; a node runs once per complete set of values on its linked inputs, so
 *
 *   runs(node) = min over its linked inputs of Σ over the links into that input of
 *                runs(source) × values per run of the link's output,
 *
 * values per run being the block's `outputsPerRun` for that output, else 1. Nodes are summed
 * in topological order; the first node that takes the sum past `limit` is the one named.
 *
 * It is an upper bound when every block yields at most what `outputsPerRun` says (nodes that
 * fail or are stopped only run less). A block that cannot know its count (Replicate Model's
 * `result`, one per item of whatever the model returns) counts 1 here, so the runner's
 * `maxNodeRuns` cap is what bounds such graphs at run time. Counts past 2^53 lose precision
 * but stay past any limit. Linear in nodes and links, without recursion.
 * @param nodes every node; `linksFrom`: the links by source node id; the graph must be acyclic.
 * @returns undefined when the worst case is at most `limit` node runs, else where it passed it.
 */
export function worstCaseNodeRuns(
  nodes: ReadonlyMap<string, FanOutNode>,
  linksFrom: ReadonlyMap<string, readonly FanOutLink[]>,
  limit: number,
): FanOutExcess | undefined {
  let total = 0;
  for (const { node, runs } of nodeRuns(nodes, linksFrom)) {
    total += runs;
    if (total > limit) return { node, runs: total };
  }
  return undefined;
}

/**
 * Values one run of `node` yields on `output` at most, when the caller knows better than the
 * block's `outputsPerRun` (a node asking for `num_outputs: 1`); undefined: the block's bound.
 */
export type ValuesPerRun = (node: FanOutNode, output: string) => number | undefined;

/**
 * Each node's worst-case runs, as {@link worstCaseNodeRuns} counts them, in topological order
 * (level by level, in the graph's order). Lazy: a caller that stops early counts no further.
 * @param valuesPerRun a tighter bound per node and output than the block's `outputsPerRun`.
 */
export function* nodeRuns(
  nodes: ReadonlyMap<string, FanOutNode>,
  linksFrom: ReadonlyMap<string, readonly FanOutLink[]>,
  valuesPerRun?: ValuesPerRun,
): Generator<{ readonly node: string; readonly runs: number }, void, undefined> {
  // Links still to arrive at each node; a node is counted once all have (Kahn's order).
  const pending = new Map<string, number>();
  for (const links of linksFrom.values())
    for (const link of links) pending.set(link.sink_id, (pending.get(link.sink_id) ?? 0) + 1);
  // Values that may arrive at each node's linked inputs, by input name.
  const arriving = new Map<string, Map<string, number>>();
  // First in, first out: nodes are counted level by level, in the graph's order.
  const ready = [...nodes.keys()].filter((id) => !pending.has(id));
  for (let next = 0; next < ready.length; next++) {
    const node = nodes.get(ready[next]!)!;
    const values = arriving.get(node.id);
    const runs = node.linked.size ? Math.min(...[...node.linked].map((input) => values?.get(input) ?? 0)) : 1;
    yield { node: node.id, runs };
    for (const link of linksFrom.get(node.id) ?? []) {
      const perRun = valuesPerRun?.(node, link.source_name) ?? node.block.outputsPerRun?.[link.source_name] ?? 1;
      let sink = arriving.get(link.sink_id);
      if (!sink) arriving.set(link.sink_id, (sink = new Map()));
      sink.set(link.sink_name, (sink.get(link.sink_name) ?? 0) + runs * perRun);
      const left = pending.get(link.sink_id)! - 1;
      pending.set(link.sink_id, left);
      if (left === 0) ready.push(link.sink_id);
    }
  }
}

import { z } from 'zod';
import { formatIssues } from '../core/issues.js';
import type { Block } from '../framework/block.js';
import { shapeOf } from '../framework/json-schema.js';
import type { BlockRegistry } from '../framework/registry.js';
import { DEFAULT_MAX_NODE_RUNS, worstCaseNodeRuns } from './fan-out.js';

const graphSchema = z
  .object({
    id: z.string().optional(),
    name: z.string().optional(),
    nodes: z
      .array(
        z
          .object({
            id: z.string().min(1),
            block_id: z.string().min(1),
            input_default: z.record(z.unknown()).default({}),
          })
          .passthrough(),
      )
      .min(1),
    links: z
      .array(
        z
          .object({ source_id: z.string(), source_name: z.string(), sink_id: z.string(), sink_name: z.string() })
          .passthrough(),
      )
      .default([]),
  })
  .passthrough();

/**
 * A graph in the AutoGPT platform's shape: nodes (`id`, `block_id`: a block's id or name,
 * `input_default`: its fixed inputs) and links (`source_id`/`source_name`: a node and one of its
 * outputs; `sink_id`/`sink_name`: a node and one of its inputs). Other keys pass through.
 */
export type Graph = z.input<typeof graphSchema>;

/** A link of a checked graph. */
export type Link = z.output<typeof graphSchema>['links'][number];

/** Where in a graph a {@link GraphError} is: a node id, or a link as the graph gave it. */
export interface GraphErrorPlace {
  readonly node?: string;
  readonly link?: {
    readonly source_id: string;
    readonly source_name: string;
    readonly sink_id: string;
    readonly sink_name: string;
  };
}

/**
 * A graph that cannot run: the message names the node or link and what is wrong; `node` or
 * `link` say the same for editors that mark it. Nothing ran.
 */
export class GraphError extends Error {
  override name = 'GraphError';
  readonly node?: string;
  readonly link?: GraphErrorPlace['link'];

  constructor(message: string, place: GraphErrorPlace = {}) {
    super(message);
    this.node = place.node;
    this.link = place.link;
  }
}

/** A node of a checked graph. */
export interface CheckedNode {
  readonly id: string;
  readonly block: Block;
  readonly defaults: Readonly<Record<string, unknown>>;
  /** Inputs fed by links. A run starts once each has a value. */
  readonly linked: ReadonlySet<string>;
}

/** A graph ready to run: its nodes by id, and its links by source node id. */
export interface CheckedGraph {
  readonly nodes: ReadonlyMap<string, CheckedNode>;
  readonly linksFrom: ReadonlyMap<string, readonly Link[]>;
}

/** Longest cycle shown in a cycle's error message, in node ids. */
const SHOWN_CYCLE = 12;

/** How far {@link checkGraph} lets a graph fan out. */
export interface CheckGraphOptions {
  /**
   * Most node runs the graph may make in the worst case (`worstCaseNodeRuns`): a graph that
   * could make more is refused. A positive whole number; default 1,000, as `runGraph`'s cap.
   */
  readonly maxNodeRuns?: number;
}

/**
 * What a node id may be: 1 to 64 letters, digits, `_` and `-`. AutoGPT's ids (UUIDs) and the
 * studio's (`n1`) fit; hosts key results and status by node id, and ids show in messages.
 */
export const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Ids that fit {@link NODE_ID} but name a property every object has: never a node's id. */
const OBJECT_PROPERTY_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype).concat('prototype'));

/** Why `id` is no node id, or undefined for a good one. */
function nodeIdProblem(id: string): string | undefined {
  if (!NODE_ID.test(id)) return 'use 1 to 64 letters, digits, _ or -, e.g. a UUID or "generate"';
  if (OBJECT_PROPERTY_NAMES.has(id))
    return `${id} is a name every JavaScript object has: pick another, e.g. "generate"`;
  return undefined;
}

/** A node id for a message: quoted, and cut to 64 characters. */
const quoted = (id: string) => JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}...` : id);

/**
 * Checks a graph before anything runs: node ids of {@link NODE_ID}'s shape that are no
 * `Object.prototype` property (`__proto__`, `constructor`, ...), known blocks, unique node ids, links between existing
 * nodes, from an output to an input the blocks have (own properties only: `toString` is no
 * pin), not from `error`, no cycles, every required input fixed or linked, every fixed input
 * valid, and at most `maxNodeRuns` node runs in the worst case (values multiply along links:
 * 6 levels of 10 nodes each linked from every node above make 1,111,111 runs). Linear in the
 * graph's size, without recursion, so any graph that fits in memory is checked.
 * @throws {GraphError} naming the node or link and what is wrong; for too many node runs, the
 *   node where the count passes the limit; for a `maxNodeRuns` that is not a positive whole number.
 */
export function checkGraph(graph: unknown, registry: BlockRegistry, options: CheckGraphOptions = {}): CheckedGraph {
  const { maxNodeRuns = DEFAULT_MAX_NODE_RUNS } = options;
  if (!Number.isSafeInteger(maxNodeRuns) || maxNodeRuns < 1)
    throw new GraphError(`maxNodeRuns must be a positive whole number, not ${maxNodeRuns}`);
  const parsed = graphSchema.safeParse(graph);
  if (!parsed.success) throw new GraphError(`Invalid graph: ${formatIssues(parsed.error.issues, 'graph')}`);
  const nodes = new Map<string, CheckedNode & { linked: Set<string> }>();
  for (const node of parsed.data.nodes) {
    const idProblem = nodeIdProblem(node.id);
    if (idProblem) throw new GraphError(`Node id ${quoted(node.id)} is not allowed: ${idProblem}`, { node: node.id });
    const block = registry.get(node.block_id);
    if (!block)
      throw new GraphError(`Node ${node.id}: no block with id or name "${node.block_id}" is registered`, {
        node: node.id,
      });
    if (nodes.has(node.id)) throw new GraphError(`Node id ${node.id} is used twice`, { node: node.id });
    nodes.set(node.id, { id: node.id, block, defaults: node.input_default, linked: new Set() });
  }
  const linksFrom = new Map<string, Link[]>();
  for (const link of parsed.data.links) {
    const where = `Link ${link.source_id}.${link.source_name} -> ${link.sink_id}.${link.sink_name}`;
    const source = nodes.get(link.source_id);
    const sink = nodes.get(link.sink_id);
    if (!source || !sink) throw new GraphError(`${where}: no node ${source ? link.sink_id : link.source_id}`, { link });
    if (!Object.hasOwn(source.block.outputSchema.shape, link.source_name))
      throw new GraphError(`${where}: ${source.block.name} has no output ${link.source_name}`, { link });
    if (link.source_name === 'error')
      throw new GraphError(`${where}: links from error are not supported; a failing node stops its downstream`, {
        link,
      });
    if (!Object.hasOwn(shapeOf(sink.block.inputSchema), link.sink_name))
      throw new GraphError(`${where}: ${sink.block.name} has no input ${link.sink_name}`, { link });
    sink.linked.add(link.sink_name);
    const from = linksFrom.get(link.source_id);
    if (from) from.push(link);
    else linksFrom.set(link.source_id, [link]);
  }
  const cycle = findCycle(nodes.keys(), linksFrom);
  if (cycle) {
    const shown =
      cycle.length > SHOWN_CYCLE
        ? [...cycle.slice(0, SHOWN_CYCLE - 1), `... (${cycle.length - SHOWN_CYCLE} more)`, cycle.at(-1)!]
        : cycle;
    throw new GraphError(
      `The graph has a cycle (${shown.join(' -> ')}): the reference runner runs acyclic graphs only`,
    );
  }
  for (const node of nodes.values()) {
    const shape = shapeOf(node.block.inputSchema);
    const missing = Object.keys(shape).filter(
      (name) => !shape[name]!.isOptional() && !Object.hasOwn(node.defaults, name) && !node.linked.has(name),
    );
    if (missing.length)
      throw new GraphError(
        `Node ${node.id} (${node.block.name}): required input ${missing.join(', ')} is neither set in input_default nor linked`,
        { node: node.id },
      );
    // Fixed inputs are checked now, so a bad value fails before any node runs (and is billed).
    const parsedDefaults = node.block.inputSchema.safeParse(node.defaults);
    const issues = parsedDefaults.success
      ? []
      : parsedDefaults.error.issues.filter((issue) => !node.linked.has(String(issue.path[0])));
    if (issues.length)
      throw new GraphError(`Node ${node.id} (${node.block.name}): ${formatIssues(issues)}`, { node: node.id });
  }
  const excess = worstCaseNodeRuns(nodes, linksFrom, maxNodeRuns);
  if (excess) {
    const node = nodes.get(excess.node)!;
    const runs = excess.runs > Number.MAX_SAFE_INTEGER ? 'more than 2^53' : String(excess.runs);
    throw new GraphError(
      `Node ${node.id} (${node.block.name}): the graph could make ${runs} node runs by this node, past the limit of ${maxNodeRuns} (maxNodeRuns). Each value a node yields runs every node linked to it once, so runs multiply along links; link fewer nodes to each other, or raise maxNodeRuns (--max-node-runs) if the graph is meant to run that many.`,
      { node: node.id },
    );
  }
  return { nodes, linksFrom };
}

/**
 * A cycle's node ids, first repeated at the end, or undefined for an acyclic graph. Depth-first
 * search with an explicit stack, so a chain of any length cannot overflow the call stack.
 */
function findCycle(ids: Iterable<string>, linksFrom: ReadonlyMap<string, readonly Link[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  for (const root of ids) {
    if (state.has(root)) continue;
    // Each frame: a node on the current path and the index of its next link to follow.
    const stack: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
    state.set(root, 'open');
    while (stack.length) {
      const frame = stack.at(-1)!;
      const link = linksFrom.get(frame.id)?.[frame.next++];
      if (!link) {
        state.set(frame.id, 'done');
        stack.pop();
        continue;
      }
      const seen = state.get(link.sink_id);
      if (seen === 'open') {
        const path = stack.map((f) => f.id);
        return [...path.slice(path.indexOf(link.sink_id)), link.sink_id];
      }
      if (seen === undefined) {
        state.set(link.sink_id, 'open');
        stack.push({ id: link.sink_id, next: 0 });
      }
    }
  }
  return undefined;
}

import { z } from 'zod';
import { runBlock, type Block, type BlockContext } from './block.js';
import { formatIssues } from './errors.js';
import type { BlockRegistry } from './registry.js';
import { shapeOf } from './schema.js';

const graphSchema = z
  .object({
    id: z.string().optional(),
    name: z.string().optional(),
    nodes: z.array(z.object({ id: z.string().min(1), block_id: z.string().min(1), input_default: z.record(z.unknown()).default({}) }).passthrough()).min(1),
    links: z
      .array(z.object({ source_id: z.string(), source_name: z.string(), sink_id: z.string(), sink_name: z.string() }).passthrough())
      .default([]),
  })
  .passthrough();

/**
 * A graph in the AutoGPT platform's shape: nodes (`id`, `block_id`: a block's id or name,
 * `input_default`: its fixed inputs) and links (`source_id`/`source_name`: a node and one of its
 * outputs; `sink_id`/`sink_name`: a node and one of its inputs). Other keys pass through.
 */
export type Graph = z.input<typeof graphSchema>;

/** One value a node yielded. */
export interface GraphOutput {
  readonly node: string;
  readonly output: string;
  readonly value: unknown;
}

/** What a graph run ended with. */
export interface GraphResult {
  /** Every output of every node, in the order they were yielded. */
  readonly outputs: GraphOutput[];
  /** Each node run that yielded `error`: the node, its block's name and the message. */
  readonly failures: Array<{ readonly node: string; readonly block: string; readonly error: string }>;
  /** Nodes stopped (not run, or aborted) because a node upstream of them failed. */
  readonly stopped: string[];
}

/** How to run a graph. */
export interface GraphRunOptions {
  /** The blocks nodes may name. */
  readonly registry: BlockRegistry;
  /** Credentials, runner and save options for every node; its `signal` stops the whole graph. */
  readonly context?: BlockContext;
  /** Called with each output as it is yielded. */
  readonly onOutput?: (output: GraphOutput) => void;
}

/** A graph that cannot run: the message names the node or link and what is wrong. Nothing ran. */
export class GraphError extends Error {
  override name = 'GraphError';
}

interface NodeState {
  readonly id: string;
  readonly block: Block;
  readonly defaults: Record<string, unknown>;
  /** Inputs fed by links. A run starts once each has a value. */
  readonly linked: Set<string>;
  /** Linked values waiting for the rest of a run's inputs, oldest first. */
  readonly waiting: Array<Record<string, unknown>>;
  readonly controller: AbortController;
  stopped: boolean;
}

/**
 * Runs a graph as a reference engine, for hosts without their own and for tests and demos.
 *
 * - Before anything runs, the graph is checked: known blocks, unique node ids, links between
 *   existing nodes, from an output to an input the blocks have (not from `error`), no cycles,
 *   every required input fixed or linked, and every fixed input valid. @throws {GraphError}.
 * - Nodes without incoming links start at once, concurrently. Each value a node yields flows
 *   along its links; a node runs when each of its linked inputs has a value, and again for each
 *   further set of values (a block yielding four `result`s runs a linked Save Image node four
 *   times). Values pair up in arrival order, as on the AutoGPT platform.
 * - A node that yields `error` stops everything downstream of it: waiting runs are dropped and
 *   running ones aborted (their predictions canceled). Other branches go on.
 * @returns every output, the failures, and the nodes stopped; never rejects once running.
 */
export async function runGraph(graph: unknown, options: GraphRunOptions): Promise<GraphResult> {
  const { nodes, links } = checkGraph(graph, options.registry);
  const result: GraphResult = { outputs: [], failures: [], stopped: [] };
  const host = options.context?.signal;
  const stopAll = () => nodes.forEach((node) => node.controller.abort());
  host?.addEventListener('abort', stopAll, { once: true });
  let running = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  const stopDownstream = (from: string) => {
    for (const link of links.filter((l) => l.source_id === from)) {
      const sink = nodes.get(link.sink_id)!;
      if (sink.stopped) continue;
      sink.stopped = true;
      sink.waiting.splice(0);
      sink.controller.abort();
      result.stopped.push(sink.id);
      stopDownstream(sink.id);
    }
  };

  const deliver = (from: string, output: string, value: unknown) => {
    for (const link of links.filter((l) => l.source_id === from && l.source_name === output)) {
      const sink = nodes.get(link.sink_id)!;
      if (sink.stopped) continue;
      let slot = sink.waiting.find((values) => !(link.sink_name in values));
      if (!slot) sink.waiting.push((slot = {}));
      slot[link.sink_name] = value;
      if ([...sink.linked].every((name) => name in slot)) {
        sink.waiting.splice(sink.waiting.indexOf(slot), 1);
        start(sink, slot);
      }
    }
  };

  const start = (node: NodeState, linkedValues: Record<string, unknown>) => {
    running += 1;
    execute(node, linkedValues).catch((error: unknown) => {
      // Only a throwing onOutput callback gets here: runBlock itself never throws.
      result.failures.push({ node: node.id, block: node.block.name, error: `Internal error: ${error instanceof Error ? error.message : String(error)}` });
    }).finally(() => {
      running -= 1;
      if (running === 0) finish();
    });
  };

  const execute = async (node: NodeState, linkedValues: Record<string, unknown>) => {
    const context = { ...options.context, signal: node.controller.signal };
    for await (const [output, value] of runBlock(node.block, { ...node.defaults, ...linkedValues }, context)) {
      // Outputs of a node stopped from upstream are the abort's, not the node's own.
      if (node.stopped) return;
      const event = { node: node.id, output, value };
      result.outputs.push(event);
      options.onOutput?.(event);
      if (output === 'error') {
        result.failures.push({ node: node.id, block: node.block.name, error: String(value) });
        stopDownstream(node.id);
      } else {
        deliver(node.id, output, value);
      }
    }
  };

  for (const node of nodes.values()) if (node.linked.size === 0) start(node, {});
  await finished;
  host?.removeEventListener('abort', stopAll);
  return result;
}

type Link = z.output<typeof graphSchema>['links'][number];

/** Checks a graph and prepares its nodes. @throws {GraphError} naming what is wrong. */
function checkGraph(graph: unknown, registry: BlockRegistry): { nodes: Map<string, NodeState>; links: Link[] } {
  const parsed = graphSchema.safeParse(graph);
  if (!parsed.success) throw new GraphError(`Invalid graph: ${formatIssues(parsed.error.issues, 'graph')}`);
  const nodes = new Map<string, NodeState>();
  for (const node of parsed.data.nodes) {
    const block = registry.get(node.block_id);
    if (!block) throw new GraphError(`Node ${node.id}: no block with id or name "${node.block_id}" is registered`);
    if (nodes.has(node.id)) throw new GraphError(`Node id ${node.id} is used twice`);
    nodes.set(node.id, { id: node.id, block, defaults: node.input_default, linked: new Set(), waiting: [], controller: new AbortController(), stopped: false });
  }
  const { links } = parsed.data;
  for (const link of links) {
    const where = `Link ${link.source_id}.${link.source_name} -> ${link.sink_id}.${link.sink_name}`;
    const source = nodes.get(link.source_id);
    const sink = nodes.get(link.sink_id);
    if (!source || !sink) throw new GraphError(`${where}: no node ${source ? link.sink_id : link.source_id}`);
    if (!(link.source_name in source.block.outputSchema.shape)) throw new GraphError(`${where}: ${source.block.name} has no output ${link.source_name}`);
    if (link.source_name === 'error') throw new GraphError(`${where}: links from error are not supported; a failing node stops its downstream`);
    if (!(link.sink_name in shapeOf(sink.block.inputSchema))) throw new GraphError(`${where}: ${sink.block.name} has no input ${link.sink_name}`);
    sink.linked.add(link.sink_name);
  }
  const cycle = findCycle(nodes, links);
  if (cycle) throw new GraphError(`The graph has a cycle (${cycle.join(' -> ')}): the reference runner runs acyclic graphs only`);
  for (const node of nodes.values()) {
    const shape = shapeOf(node.block.inputSchema);
    const missing = Object.keys(shape).filter((name) => !shape[name]!.isOptional() && !(name in node.defaults) && !node.linked.has(name));
    if (missing.length) throw new GraphError(`Node ${node.id} (${node.block.name}): required input ${missing.join(', ')} is neither set in input_default nor linked`);
    // Fixed inputs are checked now, so a bad value fails before any node runs (and is billed).
    const parsedDefaults = node.block.inputSchema.safeParse(node.defaults);
    const issues = parsedDefaults.success ? [] : parsedDefaults.error.issues.filter((issue) => !node.linked.has(String(issue.path[0])));
    if (issues.length) throw new GraphError(`Node ${node.id} (${node.block.name}): ${formatIssues(issues)}`);
  }
  return { nodes, links };
}

/** A cycle's node ids, or undefined for an acyclic graph. */
function findCycle(nodes: Map<string, NodeState>, links: readonly Link[]): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'open') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'open');
    path.push(id);
    for (const link of links.filter((l) => l.source_id === id)) {
      const cycle = visit(link.sink_id);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of nodes.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}

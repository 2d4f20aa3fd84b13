import type { Block, BlockContext } from '../framework/block.js';
import type { BlockRegistry } from '../framework/registry.js';
import { runBlock } from '../framework/run-block.js';
import { checkGraph, type CheckedNode } from './check-graph.js';

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
  /**
   * Runs one node run, as `runBlock` does (never throws; stops after `error`; aborting the
   * context's signal stops it). Default `runBlock`, in this process; workers/queue.ts runs
   * each node run as a job on other processes.
   */
  readonly runNode?: (block: Block, input: Record<string, unknown>, context: BlockContext) => AsyncIterable<readonly [string, unknown]>;
}

/** A node while the graph runs. */
interface NodeState extends CheckedNode {
  /** Linked values waiting for the rest of a run's inputs, oldest first. */
  readonly waiting: Array<Map<string, unknown>>;
  readonly controller: AbortController;
  stopped: boolean;
}

/**
 * Runs a graph as a reference engine, for hosts without their own and for tests and demos.
 *
 * - Before anything runs, the graph is checked (`checkGraph`): known blocks, unique node ids,
 *   links between existing nodes, from an output to an input the blocks have (not from
 *   `error`), no cycles, every required input fixed or linked, and every fixed input valid.
 *   @throws {GraphError}.
 * - Nodes without incoming links start at once, concurrently. Each value a node yields flows
 *   along its links; a node runs when each of its linked inputs has a value, and again for each
 *   further set of values (a block yielding four `result`s runs a linked Save Image node four
 *   times). Values pair up in arrival order, as on the AutoGPT platform.
 * - A node that yields `error` stops everything downstream of it: waiting runs are dropped and
 *   running ones aborted (their predictions canceled). Other branches go on.
 * @returns every output, the failures, and the nodes stopped; never rejects once running.
 */
export async function runGraph(graph: unknown, options: GraphRunOptions): Promise<GraphResult> {
  const checked = checkGraph(graph, options.registry);
  const nodes = new Map<string, NodeState>();
  for (const [id, node] of checked.nodes) nodes.set(id, { ...node, waiting: [], controller: new AbortController(), stopped: false });
  const linksFrom = (id: string) => checked.linksFrom.get(id) ?? [];
  const result: GraphResult = { outputs: [], failures: [], stopped: [] };
  const host = options.context?.signal;
  const stopAll = () => nodes.forEach((node) => node.controller.abort());
  host?.addEventListener('abort', stopAll, { once: true });
  let running = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));

  // Iterative, so a long chain below a failure cannot overflow the stack.
  const stopDownstream = (from: string) => {
    const pending = [from];
    while (pending.length) {
      for (const link of linksFrom(pending.pop()!)) {
        const sink = nodes.get(link.sink_id)!;
        if (sink.stopped) continue;
        sink.stopped = true;
        sink.waiting.splice(0);
        sink.controller.abort();
        result.stopped.push(sink.id);
        pending.push(sink.id);
      }
    }
  };

  const deliver = (from: string, output: string, value: unknown) => {
    for (const link of linksFrom(from)) {
      if (link.source_name !== output) continue;
      const sink = nodes.get(link.sink_id)!;
      if (sink.stopped) continue;
      let slot = sink.waiting.find((values) => !values.has(link.sink_name));
      if (!slot) sink.waiting.push((slot = new Map()));
      slot.set(link.sink_name, value);
      if (slot.size === sink.linked.size) {
        sink.waiting.splice(sink.waiting.indexOf(slot), 1);
        start(sink, Object.fromEntries(slot));
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
    const runNode = options.runNode ?? runBlock;
    for await (const [output, value] of runNode(node.block, { ...node.defaults, ...linkedValues }, context)) {
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

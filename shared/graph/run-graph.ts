import { setImmediate as nextTurn } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import { actualCost, NO_PREDICTION_SEEN, type ActualCost } from '../framework/actual-cost.js';
import type { Block, BlockContext } from '../framework/block.js';
import { shapeOf } from '../framework/json-schema.js';
import type { BlockRegistry } from '../framework/registry.js';
import { runBlock } from '../framework/run-block.js';
import type { Prediction, ProgressEvent } from '../replicate/types.js';
import { checkGraph, GraphError, type CheckedGraph, type CheckedNode } from './check-graph.js';
import { describeTotal, estimateGraphCost, formatUsd } from './estimate.js';
import { DEFAULT_MAX_NODE_RUNS } from './fan-out.js';
import { withLocalImages } from './local-images.js';
import type { NodeRunCost } from './run-cost.js';

/** Image downloads one graph run lets go at once, unless the host passes its own `context.downloads`. */
const DOWNLOADS_AT_ONCE = 8;

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
  /**
   * Nodes stopped (not run, or aborted) because a node upstream of them failed, or not run
   * past the `maxPredictions` or `maxNodeRuns` cap.
   */
  readonly stopped: string[];
  /**
   * What the run cost, per prediction of each node run of a block with a price (`Block.pricing`),
   * as `actualCost` reads it from the ended prediction: outputs, megapixels or
   * `metrics.predict_time` × the price; `usd` null (unknown) where the price or that figure is
   * unknown, and for a run that showed no ended prediction (with a custom `runNode`, e.g.
   * workers, none is seen). Blocks that make no paid request have none. Sum with `totalCost`.
   */
  readonly costs: NodeRunCost[];
}

/**
 * One run of a node: `started`, its predictions' `progress` (status and percent), `ended`
 * (after its last output, whatever it was). A node runs once per set of linked values.
 */
export type NodeRunEvent =
  | { readonly node: string; readonly phase: 'started' | 'ended' }
  | { readonly node: string; readonly phase: 'progress'; readonly progress: ProgressEvent };

/** How to run a graph. */
export interface GraphRunOptions {
  /** The blocks nodes may name. */
  readonly registry: BlockRegistry;
  /**
   * Credentials, runner and save options for every node; its `signal` stops the whole graph.
   * Without `downloads`, the run queues image downloads at 8 at a time.
   */
  readonly context?: BlockContext;
  /**
   * Most predictions the run may create: runs of nodes whose block calls Replicate (has a
   * `credentials` input), one prediction each. A positive whole number; default 50.
   */
  readonly maxPredictions?: number;
  /**
   * Most node runs the run may start, whatever their block: the graph is refused before
   * anything runs when its worst case (`worstCaseNodeRuns`) is more, and a run past it is not
   * started (for outputs whose count no check can know, e.g. Replicate Model's `result`).
   * A positive whole number; default 1,000.
   */
  readonly maxNodeRuns?: number;
  /**
   * Most USD the graph may cost in the worst case (`estimateGraphCost`): a graph that could
   * cost more, or whose cost is partly unknown (a model without a known price), is refused
   * before any request. A positive number; default none (no cost check).
   */
  readonly maxCostUsd?: number;
  /** Most node runs going at once; the others wait their turn. A positive whole number; default 8. */
  readonly concurrency?: number;
  /** Called with each output as it is yielded. */
  readonly onOutput?: (output: GraphOutput) => void;
  /** Called as each node run starts, progresses and ends, for hosts that show live status. */
  readonly onNodeRun?: (event: NodeRunEvent) => void;
  /**
   * Runs one node run, as `runBlock` does (never throws; stops after `error`; aborting the
   * context's signal stops it). Default `runBlock`, in this process; hosts/workers/queue.ts runs
   * each node run as a job on other processes.
   */
  readonly runNode?: (
    block: Block,
    input: Record<string, unknown>,
    context: BlockContext,
  ) => AsyncIterable<readonly [string, unknown]>;
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
 * - Limits, because runs multiply along links: a 5-node chain where each node makes 4 images
 *   (`num_outputs: 4`) runs 1 + 4 + 16 + 64 + 256 = 341 predictions, each billed. At most
 *   `concurrency` node runs go at once (default 8), and image downloads (Save Image) 8 at a
 *   time. A run of a Replicate node past `maxPredictions` (default 50) is not started: the graph
 *   reports one failure naming the cap, starts no further Replicate runs (they are listed in
 *   `stopped`), and lets the runs already going end, so the images already paid for still flow
 *   to their Save Image nodes.
 * - Every node run counts, whatever its block: a graph that could make more than `maxNodeRuns`
 *   (default 1,000) node runs is refused before anything runs, naming the node where its worst
 *   case passes the limit (`checkGraph`, `worstCaseNodeRuns`). Should a block yield more values
 *   than that bound knew of, a node run past the cap is not started: as with `maxPredictions`,
 *   one failure names the cap, and the runs already going end.
 * - Aborting `context.signal` aborts every node run going; no node run starts after it, and
 *   no value flows further. Before each node run the runner lets the event loop turn, so a graph
 *   whose runs never wait on I/O (Save Image of `data:` URIs) cannot keep signals, timers and
 *   HTTP requests (a host's cancel) waiting.
 * - With `maxCostUsd`, a graph whose worst-case cost (`estimateGraphCost`) passes it, or is
 *   partly unknown, is refused before any request.
 * @returns every output, the failures, and the nodes stopped; never rejects once running.
 * @throws {GraphError} before anything runs, for a bad graph, one that could make more than
 *   `maxNodeRuns` node runs, or a `maxPredictions`, `maxNodeRuns` or `concurrency` that is not a
 *   positive whole number; for a graph past `maxCostUsd` or a `maxCostUsd` that is no positive number.
 */
export async function runGraph(graph: unknown, options: GraphRunOptions): Promise<GraphResult> {
  const limits = checkLimits(options);
  const files = options.context?.files;
  const checked = checkGraph(files ? await withLocalImages(graph, options.registry, files) : graph, options.registry, {
    maxNodeRuns: limits.maxNodeRuns,
  });
  if (options.maxCostUsd !== undefined) checkCost(checked, options.maxCostUsd);
  return new GraphRun(checked, options, limits).run();
}

/**
 * Refuses a graph whose worst-case cost passes `maxCostUsd`, or cannot be bounded (unknown prices).
 * @throws {GraphError} naming the total, the limit and what to do.
 */
function checkCost(checked: CheckedGraph, maxCostUsd: number): void {
  if (typeof maxCostUsd !== 'number' || !Number.isFinite(maxCostUsd) || maxCostUsd <= 0)
    throw new GraphError(`maxCostUsd must be a positive number of USD, not ${String(maxCostUsd)}`);
  const estimate = estimateGraphCost(checked);
  if (estimate.unknown.length)
    throw new GraphError(
      `Not run: the graph's worst case is ${describeTotal(estimate)}, so it cannot be held to ${formatUsd(maxCostUsd)} (maxCostUsd, --max-cost). Use models with a known price (docs/costs.md), or run without the cost limit.`,
    );
  if (estimate.knownUsd > maxCostUsd) {
    const top = [...estimate.nodes].sort((a, b) => (b.usd ?? 0) - (a.usd ?? 0))[0]!;
    throw new GraphError(
      `Not run: the graph could cost ${formatUsd(estimate.knownUsd)} in the worst case, past the limit of ${formatUsd(maxCostUsd)} (maxCostUsd, --max-cost); the most is node ${top.node} (${formatUsd(top.usd ?? 0)}). Ask for fewer images (num_outputs), link fewer nodes, pick a cheaper model, or raise the limit.`,
      { node: top.node },
    );
  }
}

/** The run's limits, defaults filled in. */
interface RunLimits {
  readonly maxPredictions: number;
  readonly maxNodeRuns: number;
  readonly concurrency: number;
}

/** The options' limits with their defaults. @throws {GraphError} for one that is not a positive whole number. */
function checkLimits(options: GraphRunOptions): RunLimits {
  const { maxPredictions = 50, maxNodeRuns = DEFAULT_MAX_NODE_RUNS, concurrency = 8 } = options;
  for (const [name, value] of [
    ['maxPredictions', maxPredictions],
    ['maxNodeRuns', maxNodeRuns],
    ['concurrency', concurrency],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1)
      throw new GraphError(`${name} must be a positive whole number, not ${value}`);
  }
  return { maxPredictions, maxNodeRuns, concurrency };
}

/**
 * A cap on the runs of a graph run (`maxPredictions`, `maxNodeRuns`): counts them and, once one
 * is refused, refuses every later one.
 */
class RunCap {
  private count = 0;
  private reached = false;

  constructor(
    private readonly limit: number,
    /** The one failure recorded when the cap is reached. */
    private readonly refusal: string,
  ) {}

  /** Counts a run of `node`; false past the limit, recording the cap's failure (once) and the node as stopped. */
  take(node: NodeState, result: GraphResult): boolean {
    if (!this.reached && this.count < this.limit) {
      this.count += 1;
      return true;
    }
    if (!this.reached) result.failures.push({ node: node.id, block: node.block.name, error: this.refusal });
    this.reached = true;
    if (!result.stopped.includes(node.id)) result.stopped.push(node.id);
    return false;
  }
}

/** One run of a checked graph: its nodes' state, the result so far, and the caps. */
class GraphRun {
  private readonly nodes = new Map<string, NodeState>();
  private readonly result: GraphResult = { outputs: [], failures: [], stopped: [], costs: [] };
  private readonly host: AbortSignal | undefined;
  private readonly context: BlockContext;
  private readonly turn: LimitFunction;
  private readonly predictions: RunCap;
  private readonly nodeRuns: RunCap;
  /** Node runs queued or going; the run ends when it drops to 0. */
  private running = 0;
  private finish!: () => void;
  private readonly finished: Promise<void>;

  constructor(
    private readonly checked: CheckedGraph,
    private readonly options: GraphRunOptions,
    limits: RunLimits,
  ) {
    for (const [id, node] of checked.nodes)
      this.nodes.set(id, { ...node, waiting: [], controller: new AbortController(), stopped: false });
    this.host = options.context?.signal;
    this.context = { ...options.context, downloads: options.context?.downloads ?? pLimit(DOWNLOADS_AT_ONCE) };
    this.turn = pLimit(limits.concurrency);
    this.predictions = new RunCap(
      limits.maxPredictions,
      `Not run: the graph run reached its cap of ${limits.maxPredictions} predictions (maxPredictions); no further predictions were created. Raise maxPredictions if the graph is meant to make more.`,
    );
    this.nodeRuns = new RunCap(
      limits.maxNodeRuns,
      `Not run: the graph run reached its cap of ${limits.maxNodeRuns} node runs (maxNodeRuns); no further node runs were started. Raise maxNodeRuns (--max-node-runs) if the graph is meant to run more.`,
    );
    this.finished = new Promise<void>((resolve) => (this.finish = resolve));
  }

  /** Starts the nodes without incoming links and waits for the last node run to end. */
  async run(): Promise<GraphResult> {
    this.host?.addEventListener('abort', this.stopAll, { once: true });
    for (const node of this.nodes.values()) if (node.linked.size === 0) this.start(node, {});
    // Aborted before anything started: nothing will call finish.
    if (this.running === 0) this.finish();
    await this.finished;
    this.host?.removeEventListener('abort', this.stopAll);
    return this.result;
  }

  // The host's reason (e.g. `interrupted (Ctrl-C)`) reaches the nodes' error messages.
  private readonly stopAll = () => this.nodes.forEach((node) => node.controller.abort(this.host?.reason));

  private linksFrom(id: string) {
    return this.checked.linksFrom.get(id) ?? [];
  }

  /** Queues a run of `node` with its linked values, unless aborted or past `maxNodeRuns`. */
  private start(node: NodeState, linkedValues: Record<string, unknown>) {
    // Counted when queued, so the queue itself stays within the cap.
    if (this.host?.aborted || !this.nodeRuns.take(node, this.result)) return;
    this.running += 1;
    this.turn(() => this.execute(node, linkedValues))
      .catch((error: unknown) => {
        // Only a throwing onOutput callback gets here: runBlock itself never throws.
        this.result.failures.push({
          node: node.id,
          block: node.block.name,
          error: `Internal error: ${error instanceof Error ? error.message : String(error)}`,
        });
      })
      .finally(() => {
        this.running -= 1;
        if (this.running === 0) this.finish();
      });
  }

  /** One node run, its turn come: its events, and each output recorded and passed on. */
  private async execute(node: NodeState, linkedValues: Record<string, unknown>) {
    // A turn of the event loop, so signals and requests are seen between runs that never wait.
    await nextTurn();
    // Stopped from upstream or aborted while it waited its turn, or past the cap: not run.
    if (node.stopped || node.controller.signal.aborted || !this.mayCreate(node)) return;
    const notify = this.options.onNodeRun;
    notify?.({ node: node.id, phase: 'started' });
    const costs: ActualCost[] = [];
    try {
      const input = { ...node.defaults, ...linkedValues };
      for await (const [output, value] of (this.options.runNode ?? runBlock)(
        node.block,
        input,
        this.contextFor(node, costs),
      )) {
        // Outputs of a node stopped from upstream are the abort's, not the node's own.
        if (node.stopped) return;
        this.record(node, output, value);
      }
    } finally {
      if (node.block.pricing)
        for (const cost of costs.length ? costs : [NO_PREDICTION_SEEN])
          this.result.costs.push({ ...cost, node: node.id, block: node.block.name });
      notify?.({ node: node.id, phase: 'ended' });
    }
  }

  /** Counts a run of a node that creates a prediction; false, and the graph capped, past `maxPredictions`. */
  private mayCreate(node: NodeState): boolean {
    if (!Object.hasOwn(shapeOf(node.block.inputSchema), 'credentials')) return true;
    return this.predictions.take(node, this.result);
  }

  /**
   * A node run's context: its own signal, its predictions' progress also reported as node run
   * events, and the cost of each prediction it saw end put in `costs`.
   */
  private contextFor(node: NodeState, costs: ActualCost[]): BlockContext {
    const notify = this.options.onNodeRun;
    const runner = this.context.runner;
    const onProgress =
      notify &&
      ((progress: ProgressEvent) => {
        runner?.onProgress?.(progress);
        notify({ node: node.id, phase: 'progress', progress });
      });
    const onCompleted = (prediction: Prediction) => {
      runner?.onCompleted?.(prediction);
      costs.push(actualCost(prediction, node.block.pricing));
    };
    return {
      ...this.context,
      signal: node.controller.signal,
      runner: { ...runner, onCompleted, ...(onProgress && { onProgress }) },
    };
  }

  /** Records an output of `node`; an `error` stops everything downstream, any other value flows on. */
  private record(node: NodeState, output: string, value: unknown) {
    const event = { node: node.id, output, value };
    this.result.outputs.push(event);
    this.options.onOutput?.(event);
    if (output === 'error') {
      this.result.failures.push({ node: node.id, block: node.block.name, error: String(value) });
      this.stopDownstream(node.id);
    } else {
      this.deliver(node.id, output, value);
    }
  }

  /** Passes a value along the output's links; a sink whose linked inputs all have a value starts. */
  private deliver(from: string, output: string, value: unknown) {
    if (this.host?.aborted) return;
    for (const link of this.linksFrom(from)) {
      if (link.source_name !== output) continue;
      const sink = this.nodes.get(link.sink_id)!;
      if (sink.stopped) continue;
      let slot = sink.waiting.find((values) => !values.has(link.sink_name));
      if (!slot) sink.waiting.push((slot = new Map()));
      slot.set(link.sink_name, value);
      if (slot.size === sink.linked.size) {
        sink.waiting.splice(sink.waiting.indexOf(slot), 1);
        this.start(sink, Object.fromEntries(slot));
      }
    }
  }

  /** Stops every node downstream of `from`: waiting runs dropped, running ones aborted. */
  private stopDownstream(from: string) {
    // Iterative, so a long chain below a failure cannot overflow the stack.
    const pending = [from];
    while (pending.length) {
      for (const link of this.linksFrom(pending.pop()!)) {
        const sink = this.nodes.get(link.sink_id)!;
        if (sink.stopped) continue;
        sink.stopped = true;
        sink.waiting.splice(0);
        sink.controller.abort();
        this.result.stopped.push(sink.id);
        pending.push(sink.id);
      }
    }
  }
}

import { basename, dirname, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { checkGraph } from 'replicate-flux-blocks/shared/graph/check-graph.js';
import { describeRunCosts } from 'replicate-flux-blocks/shared/graph/run-cost.js';
import { runGraph, type GraphOutput, type NodeRunEvent } from 'replicate-flux-blocks/shared/graph/run-graph.js';
import { fetchImage } from 'replicate-flux-blocks/shared/image/fetch-image.js';
import { writeImage } from 'replicate-flux-blocks/shared/image/write-image.js';
import type { NodeStatus, RunCost, RunEvent, RunStatus } from '../protocol.js';

/** Finished runs kept for late or reconnecting listeners; older ones are forgotten. */
const KEPT_RUNS = 20;

/** A graph run the page follows: its events so far, and who listens for more. */
export interface StudioRun {
  readonly id: string;
  /** Every event so far, in order; an event's SSE id is its index. */
  readonly events: RunEvent[];
  readonly done: boolean;
  /** Calls `listener` after each further event is added to `events`; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Aborts the run: running predictions are canceled, nothing further starts. */
  cancel(): void;
}

/** What runs need from the host: blocks, the context (token, runner, save dir) and where previews are saved. */
export interface RunsOptions {
  readonly registry: BlockRegistry;
  readonly context: BlockContext;
  /** The out directory (absolute): previews are saved into it and served from it. */
  readonly outDir: string;
}

/** The runs of one studio server. */
export class Runs {
  private readonly runs = new Map<string, StudioRun>();

  constructor(private readonly options: RunsOptions) {}

  /** The run with this id, if still kept. */
  get(id: string): StudioRun | undefined {
    return this.runs.get(id);
  }

  /**
   * Checks the graph and starts running it with the reference runner.
   * @throws {GraphError} when the graph cannot run; nothing started.
   */
  start(graph: unknown): StudioRun {
    const checked = checkGraph(graph, this.options.registry);
    const run = new LiveRun(randomUUID(), [...checked.nodes.keys()]);
    this.runs.set(run.id, run);
    for (const id of [...this.runs.keys()].slice(0, Math.max(0, this.runs.size - KEPT_RUNS)))
      if (this.runs.get(id)!.done) this.runs.delete(id);
    void this.execute(run, graph);
    return run;
  }

  /** Cancels every run still going (server shutdown). */
  cancelAll(): void {
    for (const run of this.runs.values()) run.cancel();
  }

  private async execute(run: LiveRun, graph: unknown): Promise<void> {
    const { registry } = this.options;
    const saves: Array<Promise<void>> = [];
    const context: BlockContext = { ...this.options.context, signal: run.controller.signal };
    const onOutput = (event: GraphOutput) => {
      if (event.output === 'error') run.fail(event.node, String(event.value));
      else
        saves.push(
          this.preview(event, run.controller.signal).then((saved) => run.emit({ type: 'output', ...event, ...saved })),
        );
    };
    const onNodeRun = (event: NodeRunEvent) => run.track(event);
    let status: RunStatus;
    let cost: RunCost | undefined;
    try {
      const result = await runGraph(graph, { registry, context, onOutput, onNodeRun });
      if (result.costs.length) {
        const lines = describeRunCosts(result.costs);
        cost = { total: lines.at(-1)!.replace(/^Actual cost: /, ''), nodes: lines.slice(0, -1) };
      }
      await Promise.all(saves);
      for (const node of result.stopped) {
        if (run.canceled) run.setStatus(node, 'canceled', 'Canceled before it ran');
        else run.setStatus(node, 'stopped', 'Not run: a node upstream of it failed');
      }
      status = run.canceled ? 'canceled' : result.failures.length ? 'failed' : 'succeeded';
    } catch (error) {
      // Checked in start(), so only an unforeseen failure gets here; the page still gets an end.
      run.finish('failed', `Internal error: ${(error as Error).message}`);
      return;
    }
    run.finish(status, undefined, cost);
  }

  /**
   * A studio URL for an image output: Save Image's `path` in the out dir as it is; an image URL
   * saved into the out dir first, as emulator URLs die with the process and Replicate's after
   * an hour. `preview` is its studio URL, `file` its path on the server's disk. Empty for anything
   * that is not an image.
   */
  private async preview(
    { output, value }: GraphOutput,
    signal: AbortSignal,
  ): Promise<{ preview?: string; file?: string }> {
    if (typeof value !== 'string') return {};
    const { outDir, context } = this.options;
    const saved = (file: string) => ({ preview: `/files/${encodeURIComponent(basename(file))}`, file: resolve(file) });
    if (output === 'path') return resolve(dirname(value)) === outDir ? saved(value) : {};
    if (!/^(https?:|data:image\/)/.test(value)) return {};
    try {
      return saved(await writeImage(await fetchImage(value, context.save, signal), outDir));
    } catch {
      return {}; // not an image (a model's text output), or gone: the value is still shown
    }
  }
}

/** A run's state and event log. */
class LiveRun implements StudioRun {
  readonly events: RunEvent[] = [];
  readonly controller = new AbortController();
  done = false;
  canceled = false;
  private readonly listeners = new Set<() => void>();
  /** Runs going per node (a node runs once per set of linked values). */
  private readonly active = new Map<string, number>();
  private readonly status = new Map<string, NodeStatus>();

  constructor(
    readonly id: string,
    nodeIds: readonly string[],
  ) {
    for (const node of nodeIds) this.setStatus(node, 'queued');
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  cancel(): void {
    if (this.done || this.canceled) return;
    this.canceled = true;
    this.controller.abort();
  }

  emit(event: RunEvent): void {
    this.events.push(event);
    for (const listener of this.listeners) listener();
  }

  setStatus(node: string, status: NodeStatus, message?: string, percent?: number): void {
    this.status.set(node, status);
    this.emit({
      type: 'node',
      node,
      status,
      ...(percent !== undefined && { percent }),
      ...(message !== undefined && { message }),
    });
  }

  /** A node yielded `error`: failed, or canceled when the page canceled the run. */
  fail(node: string, message: string): void {
    this.setStatus(node, this.canceled ? 'canceled' : 'failed', message);
  }

  track(event: NodeRunEvent): void {
    const { node } = event;
    const active = this.active.get(node) ?? 0;
    if (event.phase === 'started') {
      this.active.set(node, active + 1);
      if (this.status.get(node) !== 'failed') this.setStatus(node, 'running');
    } else if (event.phase === 'progress') {
      if (this.status.get(node) === 'running') this.setStatus(node, 'running', undefined, event.progress.percent);
    } else {
      this.active.set(node, active - 1);
      if (active === 1 && this.status.get(node) === 'running') this.setStatus(node, 'succeeded');
    }
  }

  finish(status: RunStatus, message?: string, cost?: RunCost): void {
    for (const [node, state] of this.status) {
      if (state === 'queued' || state === 'running')
        this.setStatus(
          node,
          this.canceled ? 'canceled' : 'stopped',
          this.canceled ? 'Canceled before it ran' : 'Not run: no values reached its linked inputs',
        );
    }
    this.done = true;
    this.emit({ type: 'done', status, ...(message !== undefined && { message }), ...(cost && { cost }) });
    this.listeners.clear();
  }
}

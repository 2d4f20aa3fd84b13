import type { CallToolResult, ServerContext } from '@modelcontextprotocol/server';
import { actualCost, totalCost, type ActualCost } from 'replicate-flux-blocks/shared/framework/actual-cost.js';
import type { BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { runBlock } from 'replicate-flux-blocks/shared/framework/run-block.js';
import { GraphError } from 'replicate-flux-blocks/shared/graph/check-graph.js';
import { runGraph } from 'replicate-flux-blocks/shared/graph/run-graph.js';
import { isTerminal, type Prediction, type ProgressEvent } from 'replicate-flux-blocks/shared/replicate/types.js';
import { graphWithCredentials, withCredentials } from '../environment/environment.js';
import { blockResult, graphResult, type ResultOptions } from './results.js';
import type { BlockTool } from './tools.js';

/** What every tool call of a server factory runs with; built once by `mcpServerFactory`. */
export interface CallSettings {
  /** The blocks `run_graph` resolves `block_id` against. */
  readonly registry: BlockRegistry;
  /** The host's block context, with the server's sync wait and save directory; each call adds its signal and progress. */
  readonly context: BlockContext;
  /** How a call's results are read, downscaled and saved, given the call's AbortSignal. */
  readonly results: (signal: AbortSignal) => ResultOptions;
}

/**
 * Runs a block tool's call: `runBlock` with the server's credentials, the call's AbortSignal (a
 * cancelled call cancels the prediction) and progress 0-100 of `total` 100 when the call asked
 * for it. Returns the block's outputs as a tool result ({@link blockResult}), with `cost_usd`
 * when what its predictions cost is known (`actualCost`).
 */
export async function runBlockTool(
  settings: CallSettings,
  tool: BlockTool,
  args: Record<string, unknown>,
  ctx: ServerContext,
): Promise<CallToolResult> {
  const progress = progressOf(ctx, 100);
  const signal = ctx.mcpReq.signal;
  const onProgress = (event: ProgressEvent) => progress(percentOf(event), predictionMessage(event));
  const costs: ActualCost[] = [];
  const onCompleted = (prediction: Prediction) => costs.push(actualCost(prediction, tool.block.pricing));
  const outputs: Array<readonly [string, unknown]> = [];
  for await (const output of runBlock(tool.block, withCredentials(tool.block, args), {
    ...settings.context,
    signal,
    runner: { ...settings.context.runner, onProgress, onCompleted },
  })) {
    outputs.push(output);
  }
  const cost = totalCost(costs);
  const known = costs.length > 0 && cost.unknown === 0 ? cost.knownUsd : undefined;
  return blockResult(tool.block.name, outputs, settings.results(signal), known);
}

/**
 * Runs a `run_graph` call: `runGraph` with the server's credentials and the call's AbortSignal;
 * progress is a count of prediction events and node outputs, with no total. A graph that fails
 * its checks (`GraphError`) is an `isError` result with its message; other errors throw.
 */
export async function runGraphTool(
  settings: CallSettings,
  args: Record<string, unknown>,
  ctx: ServerContext,
): Promise<CallToolResult> {
  const progress = progressOf(ctx);
  const signal = ctx.mcpReq.signal;
  let events = 0;
  const onProgress = (event: ProgressEvent) => progress(++events, predictionMessage(event));
  try {
    const result = await runGraph(graphWithCredentials(args, settings.registry), {
      registry: settings.registry,
      context: { ...settings.context, signal, runner: { ...settings.context.runner, onProgress } },
      onOutput: ({ node, output }) => progress(++events, `node ${node}: ${output}`),
    });
    return await graphResult(result, settings.results(signal));
  } catch (error) {
    if (error instanceof GraphError)
      return { content: [{ type: 'text', text: `Error: ${error.message}` }], isError: true };
    throw error;
  }
}

/** A progress message for a prediction event: `prediction <id>: <status>[ <percent>%]`. */
function predictionMessage(event: ProgressEvent): string {
  return `prediction ${event.predictionId}: ${event.status}${event.percent === undefined ? '' : ` ${event.percent}%`}`;
}

/** A prediction's progress, 0-100: its percent while processing, 100 once it ended. */
function percentOf(event: ProgressEvent): number {
  return isTerminal(event) ? 100 : (event.percent ?? 0);
}

/**
 * Sends `notifications/progress` for a call that asked for it (`_meta.progressToken`), else
 * nothing. The spec wants progress to grow with every notification: a change that would not
 * (a new status at the same percent) is sent 0.1 higher, and nothing goes past `total`.
 */
function progressOf(ctx: ServerContext, total?: number): (progress: number, message: string) => void {
  const token = ctx.mcpReq._meta?.progressToken;
  let last = -1;
  return (progress, message) => {
    const value = Math.round(Math.max(progress, last + 0.1) * 10) / 10;
    if (token === undefined || (total !== undefined && value > total) || ctx.mcpReq.signal.aborted) return;
    last = value;
    ctx.mcpReq
      .notify({
        method: 'notifications/progress',
        params: { progressToken: token, progress: value, ...(total !== undefined && { total }), message },
      })
      .catch(() => {
        // The client went away; the call's own result (or abort) tells the rest.
      });
  };
}

import { readFile } from 'node:fs/promises';
import { registry } from 'replicate-flux-blocks/blocks/index.js';
import {
  actualCost,
  describeActualCost,
  NO_PREDICTION_SEEN,
  totalCost,
  type ActualCost,
} from 'replicate-flux-blocks/shared/framework/actual-cost.js';
import type { Block, BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import { IMAGE_OUTPUTS } from 'replicate-flux-blocks/shared/framework/fields.js';
import { readLocalImages } from 'replicate-flux-blocks/shared/framework/local-files.js';
import { runBlock } from 'replicate-flux-blocks/shared/framework/run-block.js';
import { checkGraph, GraphError } from 'replicate-flux-blocks/shared/graph/check-graph.js';
import {
  describeEstimate,
  describeTotal,
  estimateGraph,
  formatUsd,
  type GraphCostEstimate,
} from 'replicate-flux-blocks/shared/graph/estimate.js';
import { withLocalImages } from 'replicate-flux-blocks/shared/graph/local-images.js';
import { describeRunCosts } from 'replicate-flux-blocks/shared/graph/run-cost.js';
import { runGraph, type GraphOutput } from 'replicate-flux-blocks/shared/graph/run-graph.js';
import {
  graphWithCredentials,
  isPlainObject,
  keyProvider,
  openEnvironment,
  withCredentials,
  type Target,
} from '../environment/environment.js';
import { fetchImage } from 'replicate-flux-blocks/shared/image/fetch-image.js';
import type { Prediction } from 'replicate-flux-blocks/shared/replicate/types.js';
import { writeImage } from 'replicate-flux-blocks/shared/image/write-image.js';
import type { JobQueue } from '../workers/queue.js';
import { baseUrlOf, countOf, parseFlags, timeoutOf, UsageError } from './flags.js';
import { readInput, readLimited } from './read-input.js';
import { closestNames } from './suggest.js';
import { progressDisplay } from './progress.js';
import { libraryFile } from '../environment/library-files.js';
import { onStopSignals, STOP_SIGNALS, type StopSignal } from '../environment/signals.js';
import { WEBHOOK_OPTIONS, type WebhookFlags } from '../environment/webhook.js';

const TARGET_FLAGS = {
  'base-url': { type: 'string' },
  'openai-compatible-origins': { type: 'string' },
  'timeout-ms': { type: 'string' },
  out: { type: 'string' },
  redis: { type: 'string' },
  ...WEBHOOK_OPTIONS,
} as const;

/** Where runs go and where images are kept, from the flags. */
interface RunTarget extends Target {
  /** Save every result image here and print its path; default `out` on the embedded emulator, else only with --out. */
  readonly out?: string;
  /** Enqueue the runs for workers on this Redis instead of running them here (docs/scaling.md). */
  readonly redis?: string;
}

function targetOf(
  values: {
    'base-url'?: string;
    'openai-compatible-origins'?: string;
    'timeout-ms'?: string;
    out?: string;
    redis?: string;
  } & WebhookFlags,
): RunTarget {
  const webhook = { 'webhook-url': values['webhook-url'], 'webhook-port': values['webhook-port'] };
  return {
    baseUrl: baseUrlOf(values['base-url']),
    openAiOrigins: values['openai-compatible-origins'],
    timeoutMs: timeoutOf(values['timeout-ms']),
    out: values.out,
    redis: values.redis,
    webhook,
  };
}

/** A block by id or name; names match whatever their case. @throws {UsageError} for an unknown one. */
export function findBlock(idOrName: string): Block {
  const block = registry.get(idOrName) ?? registry.list().find((b) => b.name.toLowerCase() === idOrName.toLowerCase());
  if (!block) {
    const near = closestNames(
      idOrName,
      registry.list().map((b) => b.name),
    );
    const hint = near.length ? `did you mean ${near.join(' or ')}? ` : '';
    throw new UsageError(`unknown block "${idOrName}"; ${hint}see flux-blocks list`);
  }
  return block;
}

/** Where local image files may be read from: the working directory. */
const LOCAL_FILES = { allowDir: process.cwd() };

/**
 * Refuses, before anything starts, a run that needs the Replicate token when a base URL is set
 * but `REPLICATE_API_TOKEN` is not: with a base URL there is no embedded emulator, and the
 * library's own message would speak of `context.credentials`. With --redis the workers hold the token.
 * @throws {UsageError}
 */
function checkToken(blocks: Block[], target: RunTarget, env: NodeJS.ProcessEnv = process.env): void {
  if (target.redis || env.REPLICATE_API_TOKEN || !(target.baseUrl || env.REPLICATE_BASE_URL)) return;
  if (!blocks.some((block) => keyProvider(block) === 'replicate')) return;
  throw new UsageError(
    'REPLICATE_API_TOKEN is not set: with a base URL (--base-url or REPLICATE_BASE_URL) the embedded emulator is not used; set REPLICATE_API_TOKEN to your Replicate API token, or drop the base URL to run on the embedded emulator',
  );
}

/** `flux-blocks run <block> --input <json | @file | ->`. */
export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags('run', args, { input: { type: 'string' }, ...TARGET_FLAGS }, true);
  if (positionals.length !== 1) throw new UsageError('run takes exactly one block name or id');
  const block = findBlock(positionals[0]!);
  if (values.input === undefined)
    throw new UsageError("run needs --input '<json>', --input @file.json or --input - (standard input)");
  const target = targetOf(values);
  // The input is read and checked before anything starts (the embedded emulator, a webhook port).
  // Local files are read here, where they are: a worker on another machine cannot.
  let input: unknown;
  try {
    input = await readLocalImages(block, await readInput(values.input), LOCAL_FILES);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    console.log(JSON.stringify({ output: 'error', value: (error as Error).message }));
    return 1;
  }
  checkToken([block], target);
  const session = await openSession(target);
  let failed = false;
  const costs: ActualCost[] = [];
  const runner = session.context.runner;
  const onCompleted = (prediction: Prediction) => costs.push(actualCost(prediction, block.pricing));
  try {
    for await (const [name, value] of (session.jobs?.runBlock ?? runBlock)(block, withCredentials(block, input), {
      ...session.context,
      runner: { ...runner, onCompleted },
    })) {
      console.log(JSON.stringify({ output: name, value }));
      failed ||= name === 'error';
      if (name === 'result' && isImageResult(block)) failed = !(await session.keep(String(value))) || failed;
    }
  } finally {
    await session.close();
  }
  // After close, so the progress line is gone; on stderr, so stdout stays one JSON value a line.
  if (block.pricing) printRunCost(costs.length ? costs : [NO_PREDICTION_SEEN]);
  return session.stopStatus() ?? (failed ? 1 : 0);
}

/** `run`'s actual cost on stderr: `Actual cost: black-forest-labs/flux-schnell: 2 images x $0.003 = $0.006`. */
function printRunCost(costs: readonly ActualCost[]): void {
  if (costs.length === 1) return console.error(`Actual cost: ${describeActualCost(costs[0]!)}`);
  for (const cost of costs) console.error(describeActualCost(cost));
  const { knownUsd, unknown } = totalCost(costs);
  console.error(`Actual cost: ${unknown ? `at least $${knownUsd}, ${unknown} unknown` : `$${knownUsd}`}`);
}

/** `flux-blocks run-graph <graph.json>`. */
export async function runGraphCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'run-graph',
    args,
    {
      ...TARGET_FLAGS,
      'max-predictions': { type: 'string' },
      'max-node-runs': { type: 'string' },
      'max-cost': { type: 'string' },
      estimate: { type: 'boolean' },
      concurrency: { type: 'string' },
    },
    true,
  );
  if (positionals.length !== 1) throw new UsageError('run-graph takes exactly one graph file');
  const maxCostUsd = usdOf('max-cost', values['max-cost']);
  const file = positionals[0]!;
  const text = await readLimited(file, file);
  let graph: unknown;
  try {
    graph = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
  const limits = {
    maxPredictions: countOf('max-predictions', values['max-predictions']),
    maxNodeRuns: countOf('max-node-runs', values['max-node-runs']),
    concurrency: countOf('concurrency', values.concurrency),
    maxCostUsd,
  };
  if (values.estimate) return printEstimate(graph, limits.maxNodeRuns, maxCostUsd);
  // Images are kept only with --out, or on the embedded emulator (whose URLs die with it): openSession.
  return (await executeGraph(graph, targetOf(values), limits)).status;
}

/** A positive USD amount flag (`--max-cost`). @throws {UsageError} naming the flag. */
function usdOf(name: string, flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const usd = Number(flag.replace(/^\$/, ''));
  if (!flag.trim() || !Number.isFinite(usd) || usd <= 0)
    throw new UsageError(`--${name} takes an amount of USD above 0, e.g. --${name} 0.50`);
  return usd;
}

/**
 * `run-graph --estimate`: checks the graph and prints its worst-case cost per node and in total
 * on stdout; opens no environment, so nothing is created or billed. Exit 0, or 1 when
 * `--max-cost` is given and the worst case passes it or is partly unknown.
 * @throws {UsageError} when the graph cannot run (as `checkGraph` says).
 */
function printEstimate(graph: unknown, maxNodeRuns: number | undefined, maxCostUsd: number | undefined): number {
  let estimate: GraphCostEstimate;
  try {
    estimate = estimateGraph(graphWithCredentials(graph, registry), registry, { maxNodeRuns });
  } catch (error) {
    if (error instanceof GraphError) throw new UsageError(error.message);
    throw error;
  }
  for (const line of describeEstimate(estimate)) console.log(line);
  if (maxCostUsd === undefined) return 0;
  if (estimate.unknown.length || estimate.knownUsd > maxCostUsd) {
    console.error(`The worst case (${describeTotal(estimate)}) is not within --max-cost ${formatUsd(maxCostUsd)}.`);
    return 1;
  }
  return 0;
}

/** The example graph `npm run demo` runs: generate, edit, save. */
const DEMO_GRAPH = libraryFile('examples', 'generate-edit-save.json');

/** `flux-blocks demo [prompt...]`: the example graph, with the prompt (when given) in every node that takes one. */
export async function demoCommand(args: string[]): Promise<number> {
  const { positionals } = parseFlags('demo', args, {}, true);
  const graph = JSON.parse(await readFile(DEMO_GRAPH, 'utf8')) as {
    nodes: Array<{ id: string; input_default: Record<string, unknown> }>;
  };
  if (positionals.length) {
    const prompt = positionals.join(' ');
    for (const node of graph.nodes) {
      if (node.id === 'generate') node.input_default.prompt = prompt;
      if (node.id === 'edit') node.input_default.prompt = `Make it a watercolor painting; keep ${prompt} as it is`;
    }
  }
  console.error('Running examples/generate-edit-save.json: generate -> edit -> save');
  const { status, outputs } = await executeGraph(graph, { out: 'out' });
  for (const { value } of outputs.filter((o) => o.output === 'path')) console.log(`Image saved to ${String(value)}`);
  return status;
}

/**
 * Runs a graph as the CLI does: fills each node's credentials, prints every output as a JSON
 * line `{"node", "output", "value"}` on stdout (and `{"node", "output": "file", "value": path}`
 * for each result image it keeps), and each failure on stderr.
 * @throws {UsageError} when the graph cannot run (it names the node or link).
 */
async function executeGraph(
  graph: unknown,
  target: RunTarget,
  limits: { maxPredictions?: number; maxNodeRuns?: number; concurrency?: number; maxCostUsd?: number } = {},
): Promise<{ status: number; outputs: GraphOutput[] }> {
  // Checked (local image files read too) before anything starts, as runGraph would after.
  let filled: unknown;
  try {
    filled = await withLocalImages(graphWithCredentials(graph, registry), registry, LOCAL_FILES);
    checkGraph(filled, registry, { maxNodeRuns: limits.maxNodeRuns });
  } catch (error) {
    if (error instanceof GraphError) throw new UsageError(error.message);
    throw error;
  }
  const blocks = new Map<string, Block>();
  if (isPlainObject(filled) && Array.isArray(filled.nodes)) {
    for (const node of filled.nodes) {
      const block = isPlainObject(node) && typeof node.block_id === 'string' ? registry.get(node.block_id) : undefined;
      if (block && typeof node.id === 'string') blocks.set(node.id, block);
    }
  }
  checkToken([...blocks.values()], target);
  const session = await openSession(target);
  const saving: Array<Promise<boolean>> = [];
  let costLines: string[] = [];
  try {
    const onOutput = (event: GraphOutput) => {
      console.log(JSON.stringify(event));
      const block = blocks.get(event.node);
      if (event.output === 'result' && block && isImageResult(block)) {
        saving.push(session.keep(String(event.value), event.node));
      }
    };
    const result = await runGraph(filled, {
      registry,
      context: session.context,
      onOutput,
      runNode: session.jobs?.runBlock,
      ...limits,
    });
    const kept = await Promise.all(saving);
    for (const { node, block, error } of result.failures) console.error(`Node ${node} (${block}) failed: ${error}`);
    if (result.stopped.length) console.error(`Stopped, as a node upstream failed: ${result.stopped.join(', ')}`);
    if (result.costs.length) costLines = describeRunCosts(result.costs);
    const failed = result.failures.length > 0 || kept.includes(false);
    return { status: session.stopStatus() ?? (failed ? 1 : 0), outputs: result.outputs };
  } catch (error) {
    if (error instanceof GraphError) throw new UsageError(error.message);
    throw error;
  } finally {
    await session.close();
    // After close, so the progress line is gone.
    for (const line of costLines) console.error(line);
  }
}

/** Whether a block's `result` output is an image URL (the image blocks' shared output). */
function isImageResult(block: Block): boolean {
  return block.outputSchema.shape.result === IMAGE_OUTPUTS.result;
}

interface Session {
  readonly context: BlockContext;
  /** The job queue, with --redis: runs go to workers. */
  readonly jobs?: JobQueue;
  /**
   * Saves a result image when the CLI keeps images and prints `{"output":"file","value":path}`,
   * or an `error` line when that failed (and returns false); both name `node` when given.
   */
  keep(url: string, node?: string): Promise<boolean>;
  /** 130 after SIGINT (Ctrl-C), 143 after SIGTERM; undefined while no signal came. */
  stopStatus(): number | undefined;
  close(): Promise<void>;
}

/**
 * The context the CLI runs blocks with (`openEnvironment`): progress on stderr; local image
 * files read from the working directory; Ctrl-C or SIGTERM aborts (the prediction is canceled
 * first; a second signal, or 8 s without the run ending, quits at once: `onStopSignals`). On
 * the embedded emulator, whose URLs die with the process, result images are always kept (in
 * --out, default out/); with --redis, so are those of a worker's embedded emulator on this
 * machine (`JobQueue.localEmulators`), read from there as the embedded emulator's are.
 */
async function openSession(target: RunTarget): Promise<Session> {
  // BullMQ is loaded only with --redis: it adds about 80 ms to every start.
  const queued = target.redis
    ? await (await import('../workers/command.js')).openJobEnvironment(target.redis, target)
    : undefined;
  const environment = queued ?? (await openEnvironment(target));
  if (environment.embedded || target.webhook?.['webhook-port'] !== undefined) console.error(environment.description);
  const out = target.out ?? (environment.embedded ? 'out' : undefined);
  const controller = new AbortController();
  let stoppedBy: StopSignal | undefined;
  const stopListening = onStopSignals((signal) => {
    stoppedBy = signal;
    if (signal === 'SIGINT') {
      console.error('Interrupted: canceling the prediction (Ctrl-C again to quit at once)...');
      controller.abort('interrupted (Ctrl-C)');
    } else {
      console.error('Terminated: canceling the prediction (SIGTERM again to quit at once)...');
      controller.abort('terminated (SIGTERM)');
    }
  });
  const progress = progressDisplay();
  const context: BlockContext = {
    ...environment.context,
    signal: controller.signal,
    runner: { ...environment.context.runner, onProgress: progress.onProgress },
    files: LOCAL_FILES,
  };
  return {
    context,
    jobs: queued?.jobs,
    async keep(url, node) {
      const emulators = queued?.jobs.localEmulators ?? new Set<string>();
      const dir = out ?? (URL.canParse(url) && emulators.has(new URL(url).origin) ? 'out' : undefined);
      if (dir === undefined) return true;
      const save = { ...context.save, allowedOrigins: [...(context.save?.allowedOrigins ?? []), ...emulators] };
      const line = (output: string, value: string) =>
        console.log(JSON.stringify({ ...(node !== undefined && { node }), output, value }));
      try {
        line(
          'file',
          await writeImage(await fetchImage(url, { ...save, timeoutMs: target.timeoutMs }, context.signal), dir),
        );
        return true;
      } catch (error) {
        line('error', `Could not save ${url}: ${(error as Error).message}`);
        return false;
      }
    },
    stopStatus: () => stoppedBy && STOP_SIGNALS[stoppedBy],
    close: async () => {
      progress.done();
      stopListening();
      await environment.close();
    },
  };
}

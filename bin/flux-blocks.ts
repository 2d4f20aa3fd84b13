#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { registry, ReplicateFluxAdvancedModelBlock } from '../blocks/index.js';
import { startEmulator } from '../emulator/index.js';
import type { Block, BlockContext } from '../framework/block.js';
import { blockInfo } from '../framework/json-schema.js';
import { graphWithCredentials, openEnvironment, withCredentials, type Target } from '../host/environment.js';
import { WEBHOOK_OPTIONS } from '../host/webhook.js';
import { runBlock } from '../framework/run-block.js';
import { GraphError } from '../graph/check-graph.js';
import { runGraph, type GraphOutput } from '../graph/run-graph.js';
import { fetchImage } from '../image/fetch-image.js';
import { writeImage } from '../image/write-image.js';
import type { ProgressEvent } from '../replicate/types.js';

const USAGE = `Usage:
  flux-blocks list
  flux-blocks schema <block name or id>
  flux-blocks run <block name or id> --input '<json>' [--base-url URL] [--timeout-ms N] [--out DIR] [--webhook-url URL] [--webhook-port N]
  flux-blocks run-graph <graph.json> [--base-url URL] [--timeout-ms N] [--out DIR] [--webhook-url URL] [--webhook-port N]
  flux-blocks emulator [--port N] [--token TOKEN]
  flux-blocks demo [prompt...]
  flux-blocks mcp [--base-url URL] [--out DIR] [--max-image-bytes N]
  flux-blocks mcp --http [--port N] [--host H] [--auth-token T] [--base-url URL] [--out DIR] [--max-image-bytes N]
  flux-blocks studio [--port N] [--host H] [--out DIR] [--base-url URL]

Environment: REPLICATE_API_TOKEN (the Replicate API token), REPLICATE_BASE_URL (Replicate or a
compatible proxy, default https://api.replicate.com/v1). With neither, run, run-graph and demo use
the embedded emulator. Save Image nodes write into --out (default out/). --webhook-port N: wait for
Replicate's webhooks on 127.0.0.1:N instead of polling, --webhook-url URL being the public URL that
reaches it; REPLICATE_WEBHOOK_SECRET or Replicate's API gives the signing secret.

Exit status: 0 when no block yielded an error, 1 when one did, 2 for usage errors and graphs
that cannot run, 130 on Ctrl-C.`;

/** A mistake in the command line itself: exit status 2. */
class UsageError extends Error {}


async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'list':
      parseArgs({ args, options: {} });
      for (const block of registry.list()) console.log(`${block.id}\t${block.name}\t${block.description}`);
      return 0;
    case 'schema': {
      const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
      if (positionals.length !== 1) throw new UsageError('schema takes exactly one block name or id');
      console.log(JSON.stringify(blockInfo(findBlock(positionals[0]!)), null, 2));
      return 0;
    }
    case 'run':
      return run(args);
    case 'run-graph':
      return graph(args);
    case 'emulator':
      return emulator(args);
    case 'demo':
      return demo(args);
    case 'mcp':
      // Loaded on demand: the MCP SDK would slow every other command's start by about 0.2 s.
      return (await import('../mcp/command.js')).mcpCommand(args);
    case 'studio':
      return (await import('../studio/command.js')).studioCommand(args);
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  }
}

const RUN_OPTIONS = { 'base-url': { type: 'string' }, 'timeout-ms': { type: 'string' }, out: { type: 'string' }, ...WEBHOOK_OPTIONS } as const;

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { input: { type: 'string' }, ...RUN_OPTIONS } });
  if (positionals.length !== 1) throw new UsageError('run takes exactly one block name or id');
  const block = findBlock(positionals[0]!);
  if (values.input === undefined) throw new UsageError("run needs --input '<json>'");
  let input: unknown;
  try {
    input = JSON.parse(values.input);
  } catch (error) {
    throw new UsageError(`--input is not valid JSON (${(error as Error).message})`);
  }
  return (await execute(block, input, { baseUrl: values['base-url'], timeoutMs: timeoutOf(values['timeout-ms']), out: values.out, webhook: values })).status;
}

function timeoutOf(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const timeoutMs = Number(flag);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout-ms takes a positive whole number of milliseconds');
  return timeoutMs;
}

async function graph(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: RUN_OPTIONS });
  if (positionals.length !== 1) throw new UsageError('run-graph takes exactly one graph file');
  const file = positionals[0]!;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
  const { status } = await executeGraph(parsed, { baseUrl: values['base-url'], timeoutMs: timeoutOf(values['timeout-ms']), out: values.out ?? 'out', webhook: values });
  return status;
}

function findBlock(idOrName: string): Block {
  const block = registry.get(idOrName);
  if (!block) throw new UsageError(`unknown block "${idOrName}"; see flux-blocks list`);
  return block;
}

/** The example graph `npm run demo` runs: generate, edit, save. */
const DEMO_GRAPH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'generate-edit-save.json');

async function demo(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const graph = JSON.parse(await readFile(DEMO_GRAPH, 'utf8')) as { nodes: Array<{ id: string; input_default: Record<string, unknown> }> };
  const generate = graph.nodes.find((node) => node.id === 'generate')!;
  if (positionals.length) generate.input_default.prompt = positionals.join(' ');
  console.error(`Running examples/generate-edit-save.json: generate -> edit -> save`);
  const { status, outputs } = await executeGraph(graph, { out: 'out' });
  for (const { value } of outputs.filter((o) => o.output === 'path')) console.log(`Image saved to ${String(value)}`);
  return status;
}

async function emulator(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, token: { type: 'string' } } });
  const port = Number(values.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port takes a TCP port number (0-65535)');
  const server = await startEmulator({ port, token: values.token });
  console.log(`Replicate-compatible emulator listening at ${server.url}`);
  console.log(`Try: REPLICATE_BASE_URL=${server.url} REPLICATE_API_TOKEN=any flux-blocks run ${ReplicateFluxAdvancedModelBlock.name} --input '{"prompt":"a red fox"}'`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}

/**
 * The context the CLI runs blocks with ({@link openEnvironment}), with progress on stderr.
 * Ctrl-C aborts `signal`: the prediction is canceled first; a second Ctrl-C quits at once.
 */
async function connection(target: Target): Promise<{ context: BlockContext; close: () => Promise<void>; interrupted: () => boolean }> {
  const environment = await openEnvironment(target);
  if (environment.embedded || target.webhook?.['webhook-port'] !== undefined) console.error(environment.description);
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    console.error('Canceling the prediction (Ctrl-C again to quit at once)...');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const context: BlockContext = {
    ...environment.context,
    signal: controller.signal,
    runner: { ...environment.context.runner, onProgress: printProgress },
  };
  return {
    context,
    interrupted: () => controller.signal.aborted,
    close: async () => {
      process.off('SIGINT', onSigint);
      await environment.close();
    },
  };
}

/**
 * Runs a block as the CLI does ({@link connection}). Prints each output as a JSON line on
 * stdout; with `out`, saves each `result` image there.
 */
async function execute(block: Block, rawInput: unknown, target: Target): Promise<{ status: number }> {
  const { context, close, interrupted } = await connection(target);
  let failed = false;
  try {
    for await (const [name, value] of runBlock(block, withCredentials(block, rawInput), context)) {
      console.log(JSON.stringify({ output: name, value }));
      failed ||= name === 'error';
      if (name === 'result' && target.out) {
        try {
          console.error(`Saved ${await writeImage(await fetchImage(String(value), context.save, context.signal), target.out)}`);
        } catch (error) {
          failed = true;
          console.log(JSON.stringify({ output: 'error', value: `Could not save ${String(value)}: ${(error as Error).message}` }));
        }
      }
    }
  } finally {
    await close();
  }
  return { status: interrupted() ? 130 : failed ? 1 : 0 };
}

/**
 * Runs a graph as the CLI does ({@link connection}): fills each node's credentials, prints
 * every output as a JSON line `{"node", "output", "value"}` on stdout and each failure on stderr.
 * @throws {UsageError} when the graph cannot run (it names the node or link).
 */
async function executeGraph(graph: unknown, target: Target): Promise<{ status: number; outputs: GraphOutput[] }> {
  graph = graphWithCredentials(graph, registry);
  const { context, close, interrupted } = await connection(target);
  try {
    const result = await runGraph(graph, { registry, context, onOutput: (event) => console.log(JSON.stringify(event)) });
    for (const { node, block, error } of result.failures) console.error(`Node ${node} (${block}) failed: ${error}`);
    if (result.stopped.length) console.error(`Stopped, as a node upstream failed: ${result.stopped.join(', ')}`);
    return { status: interrupted() ? 130 : result.failures.length ? 1 : 0, outputs: result.outputs };
  } catch (error) {
    if (error instanceof GraphError) throw new UsageError(error.message);
    throw error;
  } finally {
    await close();
  }
}

function printProgress(event: ProgressEvent): void {
  console.error(`prediction ${event.predictionId}: ${event.status}${event.percent === undefined ? '' : ` ${event.percent}%`}`);
}


main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    const usage = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(`flux-blocks: ${(error as Error).message}`);
    if (usage) console.error('Run flux-blocks help for usage.');
    process.exitCode = usage ? 2 : 1;
  },
);

#!/usr/bin/env node
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ky from 'ky';
import { registry, ReplicateFluxAdvancedModelBlock } from '../blocks/index.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { runBlock, type Block } from '../shared/block.js';
import type { ProgressEvent } from '../shared/replicate.js';
import { blockInfo } from '../shared/schema.js';

const USAGE = `Usage:
  flux-blocks list
  flux-blocks schema <block name or id>
  flux-blocks run <block name or id> --input '<json>' [--base-url URL] [--timeout-ms N] [--out DIR]
  flux-blocks emulator [--port N] [--token TOKEN]
  flux-blocks demo [prompt...]

Environment: REPLICATE_API_TOKEN (the Replicate API token), REPLICATE_BASE_URL (Replicate or a
compatible proxy, default https://api.replicate.com/v1). With neither, run and demo use the
embedded emulator.

Exit status: 0 when the block yielded no error, 1 when it did, 2 for usage errors, 130 on Ctrl-C.`;

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
    case 'emulator':
      return emulator(args);
    case 'demo':
      return demo(args);
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
  }
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { input: { type: 'string' }, 'base-url': { type: 'string' }, 'timeout-ms': { type: 'string' }, out: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('run takes exactly one block name or id');
  const block = findBlock(positionals[0]!);
  if (values.input === undefined) throw new UsageError("run needs --input '<json>'");
  let input: unknown;
  try {
    input = JSON.parse(values.input);
  } catch (error) {
    throw new UsageError(`--input is not valid JSON (${(error as Error).message})`);
  }
  let timeoutMs: number | undefined;
  if (values['timeout-ms'] !== undefined) {
    timeoutMs = Number(values['timeout-ms']);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout-ms takes a positive whole number of milliseconds');
  }
  return (await execute(block, input, { baseUrl: values['base-url'], timeoutMs, out: values.out })).status;
}

function findBlock(idOrName: string): Block {
  const block = registry.get(idOrName);
  if (!block) throw new UsageError(`unknown block "${idOrName}"; see flux-blocks list`);
  return block;
}

async function demo(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  const prompt = positionals.join(' ') || 'A lighthouse on a sea cliff at dawn, soft watercolor';
  const { status, saved } = await execute(ReplicateFluxAdvancedModelBlock, { prompt }, { out: 'out' });
  for (const path of saved) console.log(`Image saved to ${path}`);
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
 * Runs a block as the CLI does: token from REPLICATE_API_TOKEN (filling the input's
 * `credentials` field), base URL from the flag or REPLICATE_BASE_URL, or the embedded emulator
 * when neither is set. Prints each output as a JSON line on stdout and progress on stderr;
 * saves `result` images to `out`. Ctrl-C cancels the prediction first.
 */
async function execute(
  block: Block,
  rawInput: unknown,
  options: { baseUrl?: string; timeoutMs?: number; out?: string },
): Promise<{ status: number; saved: string[] }> {
  let apiKey = process.env.REPLICATE_API_TOKEN || undefined;
  let baseUrl = options.baseUrl ?? (process.env.REPLICATE_BASE_URL || undefined);
  let embedded: Emulator | undefined;
  if (!apiKey && !baseUrl) {
    embedded = await startEmulator();
    baseUrl = embedded.url;
    apiKey = 'emulator';
    console.error(`No REPLICATE_API_TOKEN or base URL set: using the embedded emulator at ${baseUrl} (placeholder images).`);
  }
  const input = isPlainObject(rawInput) && rawInput.credentials === undefined
    ? { credentials: { provider: 'replicate', id: 'REPLICATE_API_TOKEN', type: 'api_key', title: 'Replicate API token from the environment' }, ...rawInput }
    : rawInput;

  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    console.error('Canceling the prediction (Ctrl-C again to quit at once)...');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  const saved: string[] = [];
  let failed = false;
  try {
    const outputs = runBlock(block, input, {
      credentials: apiKey ? { apiKey } : undefined,
      signal: controller.signal,
      runner: { baseUrl, timeoutMs: options.timeoutMs, onProgress: printProgress },
    });
    for await (const [name, value] of outputs) {
      console.log(JSON.stringify({ output: name, value }));
      failed ||= name === 'error';
      if (name === 'result' && options.out) {
        try {
          saved.push(await save(String(value), options.out));
          console.error(`Saved ${saved.at(-1)}`);
        } catch (error) {
          failed = true;
          console.log(JSON.stringify({ output: 'error', value: `Could not save ${String(value)}: ${(error as Error).message}` }));
        }
      }
    }
  } finally {
    process.off('SIGINT', onSigint);
    await embedded?.close();
  }
  return { status: controller.signal.aborted ? 130 : failed ? 1 : 0, saved };
}

function printProgress(event: ProgressEvent): void {
  console.error(`prediction ${event.predictionId}: ${event.status}${event.percent === undefined ? '' : ` ${event.percent}%`}`);
}

/** Downloads an output URL into `dir`, named after its last two path segments (`<id>-out-0.webp` on the emulator). */
async function save(url: string, dir: string): Promise<string> {
  const segments = new URL(url).pathname.split('/').filter(Boolean).slice(-2);
  const name = segments.join('-').replace(/[^\w.-]/g, '_') || 'output';
  const bytes = new Uint8Array(await ky.get(url, { timeout: 60_000 }).arrayBuffer());
  await mkdir(dir, { recursive: true });
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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

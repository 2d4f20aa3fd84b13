#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { registry } from 'replicate-flux-blocks/blocks/index.js';
import { blockInfo } from 'replicate-flux-blocks/shared/framework/json-schema.js';
import { emulatorCommand } from './emulator-command.js';
import { baseUrlOf, parseFlags, UsageError } from './flags.js';
import { isUsageError } from '../environment/usage-error.js';
import { demoCommand, findBlock, runCommand, runGraphCommand } from './run-commands.js';

const TARGET =
  '[--base-url URL] [--openai-compatible-origins LIST] [--timeout-ms N] [--out DIR] [--webhook-port N [--webhook-url URL]]';

/**
 * Each command's one-line summary (the `help` list), usage line and what it does (`<command> --help`).
 */
const COMMANDS: Record<string, { readonly summary: string; readonly usage: string; readonly does: string }> = {
  list: {
    summary: 'list every block: id, name and description',
    usage: 'flux-blocks list',
    does: 'Lists every block: id, name and description.',
  },
  schema: {
    summary: "print a block's input and output JSON Schemas",
    usage: 'flux-blocks schema <block name or id>',
    does: "Prints a block's info with its input and output JSON Schemas.",
  },
  run: {
    summary: 'run one block and print its outputs as JSON lines',
    usage: `flux-blocks run <block name or id> --input <json | @file.json | -> ${TARGET} [--redis URL]`,
    does: 'Runs one block; prints each output as a JSON line. Image inputs may name local files (inside the working directory). Result images are saved into --out (always on the embedded emulator, default out/) and printed as {"output":"file","value":path}.',
  },
  'run-graph': {
    summary: 'run a graph of blocks (AutoGPT shape), e.g. examples/*.json; --estimate prices it',
    usage: `flux-blocks run-graph <graph.json> ${TARGET} [--max-predictions N] [--max-node-runs N] [--max-cost USD] [--estimate] [--concurrency N] [--redis URL]`,
    does: 'Runs a graph (AutoGPT shape); prints each output as a JSON line {"node","output","value"}. Save Image nodes write into --out (default out/). Result images are saved into --out and printed as {"node","output":"file","value":path} only with --out, or always on the embedded emulator (default out/). --estimate prints the worst-case cost in USD per node and in total and runs nothing; --max-cost refuses a graph that could cost more, before any request (docs/costs.md).',
  },
  worker: {
    summary: 'run block jobs from Redis (for run and run-graph --redis)',
    usage:
      'flux-blocks worker --redis URL [--concurrency N] [--queue NAME] [--base-url URL] [--openai-compatible-origins LIST] [--timeout-ms N] [--out DIR] [--creates-per-minute N] [--others-per-minute N]',
    does: 'Runs block jobs from Redis until SIGTERM (REDIS_URL is the default URL); run and run-graph with --redis enqueue them. See docs/scaling.md.',
  },
  search: {
    summary: 'search the public models on Replicate (owner/name, description, runs)',
    usage: 'flux-blocks search <words...> [--json] [--limit N] [--base-url URL] [--timeout-ms N]',
    does: 'Searches the public models on Replicate; prints one line per model found (owner/name, description, run count), or one JSON object per line with --json. --limit: 1-50, default 20.',
  },
  emulator: {
    summary: 'serve the offline Replicate-compatible emulator',
    usage: 'flux-blocks emulator [--port N] [--token TOKEN] [--quiet]',
    does: 'Serves the local Replicate-compatible emulator until Ctrl-C, logging each request on stderr unless --quiet.',
  },
  demo: {
    summary: 'run the example graph generate -> edit -> save',
    usage: 'flux-blocks demo [prompt...]',
    does: 'Runs examples/generate-edit-save.json (generate, edit, save) with your prompt, on the embedded emulator unless a token is set.',
  },
  mcp: {
    summary: 'serve every block as an MCP tool (stdio or HTTP)',
    usage:
      'flux-blocks mcp [--http [--port N] [--host H] [--auth-token T] [--allowed-hosts A,B]] [--base-url URL] [--openai-compatible-origins LIST] [--out DIR] [--max-image-bytes N]',
    does: "Serves every block as an MCP tool over stdio, or over Streamable HTTP with --http (at /mcp; --allowed-hosts adds names the Host check accepts, a reverse proxy's, e.g. for AutoGPT's MCP Tool block: docs/autogpt.md).",
  },
  studio: {
    summary: 'serve the visual graph editor in the browser',
    usage:
      'flux-blocks studio [--port N] [--host H] [--allowed-hosts A,B] [--out DIR] [--base-url URL] [--openai-compatible-origins LIST]',
    does: "Serves the studio, a visual graph editor in the browser, and prints its URL. Off loopback (--host 0.0.0.0) it answers to the machine's host name and addresses too; --allowed-hosts adds names (a reverse proxy's).",
  },
};

const ENVIRONMENT = `Environment: REPLICATE_API_TOKEN (the Replicate API token), REPLICATE_BASE_URL (Replicate or a
compatible proxy, default https://api.replicate.com/v1). With neither, the commands use an embedded
emulator (placeholder images). OPENAI_COMPATIBLE_API_KEY is the key of the OpenAI-compatible provider
of OpenAICompatibleFluxImageBlock; OPENAI_COMPATIBLE_ORIGINS (or --openai-compatible-origins) the only
origins it is sent to (comma-separated, e.g. https://api.aggregator.example; * for any origin on a
public address; default none but the embedded emulator's). FLUX_BLOCKS_ALLOWED_HOSTS is --allowed-hosts
for studio and mcp --http when the flag is not given; MCP_AUTH_TOKEN is mcp's --auth-token. Base URLs must not hold user:pass@. Replicate deletes output URLs an hour after a prediction: keep images
with --out or a Save Image node. --webhook-port N: wait for Replicate's webhooks on 127.0.0.1:N instead
of polling, --webhook-url URL being the public URL that reaches it; REPLICATE_WEBHOOK_SECRET or
Replicate's API gives the signing secret.

Exit status: 0 when no block yielded an error, 1 when one did, 2 for usage errors and graphs that
cannot run, 130 on Ctrl-C and 143 on SIGTERM (both cancel the prediction first; a second signal
quits at once).`;

const NAME_WIDTH = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;

const USAGE = `flux-blocks <command> [flags]: Black Forest Labs' Flux models on Replicate, as blocks.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(NAME_WIDTH)}${c.summary}`)
  .join('\n')}
  ${'help'.padEnd(NAME_WIDTH)}print this help; flux-blocks <command> --help for a command's flags
  ${'--version'.padEnd(NAME_WIDTH)}print the version

Usage:
${Object.values(COMMANDS)
  .map((c) => `  ${c.usage}`)
  .join('\n')}
  flux-blocks --version

${ENVIRONMENT}`;

/** The command being run, for the pointer to its help after a usage error. */
let current: string | undefined;

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined) {
    console.error(USAGE);
    return 2;
  }
  if (command === '--version' || command === '-v') {
    console.log(VERSION);
    return 0;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return 0;
  }
  // Own keys only: `__proto__` or `constructor` is no command (it would fall through to the studio).
  const known = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!known) throw new UsageError(`unknown command "${command}"`);
  current = command;
  // Every command takes --help (before a lone `--`, which ends the flags).
  const flags = args.slice(0, args.includes('--') ? args.indexOf('--') : undefined);
  if (flags.includes('--help') || flags.includes('-h')) {
    console.log(`Usage: ${known.usage}\n\n${known.does}\n\n${ENVIRONMENT}`);
    return 0;
  }
  checkCommonFlags(flags);
  switch (command) {
    case 'list':
      parseFlags('list', args, {});
      for (const block of registry.list()) console.log(`${block.id}\t${block.name}\t${block.description}`);
      return 0;
    case 'schema': {
      const { positionals } = parseFlags('schema', args, {}, true);
      if (positionals.length !== 1) throw new UsageError('schema takes exactly one block name or id');
      console.log(JSON.stringify(blockInfo(findBlock(positionals[0]!)), null, 2));
      return 0;
    }
    case 'run':
      return runCommand(args);
    case 'run-graph':
      return runGraphCommand(args);
    case 'emulator':
      return emulatorCommand(args);
    case 'search':
      return (await import('./search-command.js')).searchCommand(args);
    case 'demo':
      return demoCommand(args);
    case 'mcp':
      // Loaded on demand: the MCP SDK would slow every other command's start by about 0.2 s.
      return (await import('../mcp/command.js')).mcpCommand(args);
    case 'worker':
      // Loaded on use: BullMQ adds about 80 ms to every start.
      return (await import('../workers/command.js')).workerCommand(args);
    default:
      return (await import('../studio/command.js')).studioCommand(args);
  }
}

/**
 * Checks every command's flags, the servers' too: none given twice (never last-wins), and
 * `--base-url` an http(s) URL. @throws {UsageError}
 */
function checkCommonFlags(flags: string[]): void {
  const seen = new Set<string>();
  flags.forEach((arg, i) => {
    if (!arg.startsWith('--')) return;
    const [name, inline] = arg.slice(2).split(/=(.*)/s) as [string, string?];
    if (seen.has(name)) throw new UsageError(`--${name} is given twice; give it once`);
    seen.add(name);
    if (name === 'base-url') baseUrlOf(inline ?? flags[i + 1] ?? '');
  });
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    const usage = isUsageError(error);
    console.error(`flux-blocks: ${(error as Error).message}`);
    // Every usage error ends with where to read more: the command's own help, unless it says already.
    if (usage && !/\bsee flux-blocks [\w -]*$/.test((error as Error).message)) {
      console.error(current ? `Run flux-blocks ${current} --help for usage.` : 'Run flux-blocks help for usage.');
    }
    process.exitCode = usage ? 2 : 1;
    // Commands close what they opened before their error gets here. Should something still
    // hold the event loop (a bug), say so and exit rather than hang; unref'd, it never delays an exit.
    setTimeout(() => {
      console.error('flux-blocks: something was left open after the error; exiting');
      process.exit();
    }, 5_000).unref();
  },
);

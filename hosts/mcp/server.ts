import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fromJsonSchema,
  McpServer,
  ResourceTemplate,
  type CallToolResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { registry as packageRegistry } from 'replicate-flux-blocks/blocks/index.js';
import type { BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { runBlock } from 'replicate-flux-blocks/shared/framework/run-block.js';
import { GraphError } from 'replicate-flux-blocks/shared/graph/check-graph.js';
import { runGraph } from 'replicate-flux-blocks/shared/graph/run-graph.js';
import { graphWithCredentials, withCredentials, type HostEnvironment } from '../environment/environment.js';
import { libraryFile } from '../environment/library-files.js';
import { isTerminal, type ProgressEvent } from 'replicate-flux-blocks/shared/replicate/types.js';
import {
  blockResult,
  DEFAULT_MAX_IMAGE_BYTES,
  graphResult,
  mediaTypeOf,
  SAVED_FILE_NAME,
  SAVED_FILE_URI,
  type ResultOptions,
} from './results.js';
import { blockTools, type BlockTool } from './tools.js';
import { GRAPH_INPUT_SCHEMA, GRAPH_OUTPUT_SCHEMA } from './graph-schemas.js';

/** How an MCP server runs its tools. */
export interface McpServerOptions {
  /** Where runs go: token, base URL (or the embedded emulator), save options. From `openEnvironment`. */
  readonly environment: HostEnvironment;
  /** The blocks served as tools. Default: every block of the package. */
  readonly registry?: BlockRegistry;
  /** Directory result images are saved into (and Save Image writes into); undefined saves no results. */
  readonly out?: string;
  /** Largest image item, in bytes of its base64 text; 0 sends none. Default 1000000. */
  readonly maxImageBytes?: number;
}

/**
 * Replicate's sync wait asked for on create, in s: short, so a long prediction is polled and
 * progress notifications flow (they keep clients with a 60 s request timeout waiting).
 */
const WAIT_SECONDS = 1;

/**
 * A factory of MCP servers, one per connection (stdio) or request (Streamable HTTP): tools,
 * their schemas, the manifest and the docs list are built once here, so each server costs
 * little (see {@link blockTools}).
 *
 * Each server has:
 * - a tool per block ({@link blockTools}): arguments are the block's input without
 *   `credentials` (the server fills it with {@link withCredentials}); the result's
 *   `structuredContent` holds every output (`{ result: [urls], seed }`), `content` a text
 *   summary, an image item per image (long side <= 1024 px, <= `maxImageBytes`), and with
 *   `out` a `resource_link` to the saved file. A run that yields `error` is `isError`.
 * - `run_graph`: runs an AutoGPT-shaped graph (`nodes`, `links`) with `runGraph`.
 * - Resources: `flux-blocks://manifest.json` (`registry.manifest()`), `flux-blocks://docs/<Block>.md`
 *   per block with a docs page (and `errors.md`), and with `out`, saved files at
 *   `flux-blocks://out/{file}`.
 * Calls carrying a progress token get `notifications/progress` on each status or percent
 * change (block tools: progress 0-100 of `total` 100; run_graph: a count of events, no total);
 * a cancelled call aborts the run, which cancels its prediction on Replicate.
 */
export function mcpServerFactory(options: McpServerOptions): () => McpServer {
  const registry = options.registry ?? packageRegistry;
  const { version } = JSON.parse(readFileSync(libraryFile('package.json'), 'utf8')) as { version: string };
  const tools = blockTools(registry);
  const graphInput = fromJsonSchema<Record<string, unknown>>(GRAPH_INPUT_SCHEMA);
  const graphOutput = fromJsonSchema(GRAPH_OUTPUT_SCHEMA);
  const manifest = JSON.stringify(registry.manifest(), null, 2);
  const docs = [...registry.list().map((block) => block.name), 'errors'].filter((name) =>
    existsSync(libraryFile('docs', `${name}.md`)),
  );
  const base = options.environment.context;
  const context: BlockContext = {
    ...base,
    runner: { ...base.runner, waitSeconds: base.runner?.waitSeconds ?? WAIT_SECONDS },
    save: { ...base.save, ...(options.out !== undefined && { dir: options.out }) },
  };
  const results = (signal: AbortSignal): ResultOptions => ({
    maxImageBytes: options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
    out: options.out,
    fetch: context.save,
    signal,
  });
  const instructions = [
    options.environment.description,
    'Each tool runs one flux-blocks block (Flux image models on Replicate, or Save Image); run_graph runs several wired together.',
    'The server supplies the Replicate API key: leave credentials out. Results hold the outputs in structuredContent and each image as an image item.',
    'Replicate deletes its result URLs after about an hour.',
    ...(options.out !== undefined
      ? [`Images are saved into ${options.out} and linked as flux-blocks://out/ resources.`]
      : []),
  ].join(' ');

  return () => {
    const server = new McpServer(
      { name: 'flux-blocks', version },
      { capabilities: { tools: {}, resources: {} }, instructions },
    );
    for (const tool of tools) {
      server.registerTool(
        tool.name,
        {
          title: tool.title,
          description: tool.description,
          inputSchema: tool.inputSchema,
          outputSchema: tool.outputSchema,
          annotations: tool.annotations,
        },
        (args, ctx) => runTool(tool, args, ctx),
      );
    }
    server.registerTool(
      'run_graph',
      {
        title: 'Run Graph',
        description:
          "Runs a graph of blocks in the AutoGPT platform's shape: nodes (id, block_id: a block's id or name, input_default) and links (source_id, source_name, sink_id, sink_name). Values flow along links; returns every node's outputs. The server supplies credentials.",
        inputSchema: graphInput,
        outputSchema: graphOutput,
        annotations: {
          title: 'Run Graph',
          readOnlyHint: false,
          destructiveHint: false,
          idempotentHint: false,
          openWorldHint: true,
        },
      },
      (args, ctx) => runGraphTool(args, ctx),
    );
    server.registerResource(
      'manifest',
      'flux-blocks://manifest.json',
      {
        title: 'Blocks manifest',
        description: "Every block's info: id, name, description, categories, input and output JSON Schemas.",
        mimeType: 'application/json',
      },
      (uri) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: manifest }] }),
    );
    for (const name of docs) {
      server.registerResource(
        `docs-${name}`,
        `flux-blocks://docs/${name}.md`,
        {
          title: name === 'errors' ? 'Errors' : `${name} docs`,
          description:
            name === 'errors'
              ? 'Every error kind, what it means and what to do.'
              : `What ${name} does, its inputs, outputs and tips.`,
          mimeType: 'text/markdown',
        },
        async (uri) => ({
          contents: [
            {
              uri: uri.href,
              mimeType: 'text/markdown',
              text: await readFile(libraryFile('docs', `${name}.md`), 'utf8'),
            },
          ],
        }),
      );
    }
    if (options.out !== undefined) {
      const out = options.out;
      server.registerResource(
        'saved-image',
        new ResourceTemplate(SAVED_FILE_URI, { list: undefined }),
        { title: 'Saved image', description: `An image the server saved into ${out}, full size.` },
        async (uri, { file }) => {
          if (typeof file !== 'string' || !SAVED_FILE_NAME.test(file)) throw new Error(`No saved file ${String(file)}`);
          return {
            contents: [
              {
                uri: uri.href,
                mimeType: mediaTypeOf(file),
                blob: (await readFile(join(out, file))).toString('base64'),
              },
            ],
          };
        },
      );
    }
    return server;
  };

  async function runTool(tool: BlockTool, args: Record<string, unknown>, ctx: ServerContext): Promise<CallToolResult> {
    const progress = progressOf(ctx, 100);
    const signal = ctx.mcpReq.signal;
    const onProgress = (event: ProgressEvent) =>
      progress(
        percentOf(event),
        `prediction ${event.predictionId}: ${event.status}${event.percent === undefined ? '' : ` ${event.percent}%`}`,
      );
    const outputs: Array<readonly [string, unknown]> = [];
    for await (const output of runBlock(tool.block, withCredentials(tool.block, args), {
      ...context,
      signal,
      runner: { ...context.runner, onProgress },
    })) {
      outputs.push(output);
    }
    return blockResult(tool.block.name, outputs, results(signal));
  }

  async function runGraphTool(args: Record<string, unknown>, ctx: ServerContext): Promise<CallToolResult> {
    const progress = progressOf(ctx);
    const signal = ctx.mcpReq.signal;
    let events = 0;
    const onProgress = (event: ProgressEvent) =>
      progress(
        ++events,
        `prediction ${event.predictionId}: ${event.status}${event.percent === undefined ? '' : ` ${event.percent}%`}`,
      );
    try {
      const result = await runGraph(graphWithCredentials(args, registry), {
        registry,
        context: { ...context, signal, runner: { ...context.runner, onProgress } },
        onOutput: ({ node, output }) => progress(++events, `node ${node}: ${output}`),
      });
      return await graphResult(result, results(signal));
    } catch (error) {
      if (error instanceof GraphError)
        return { content: [{ type: 'text', text: `Error: ${error.message}` }], isError: true };
      throw error;
    }
  }
}

/** A server from {@link mcpServerFactory}, for one connection. */
export function createMcpServer(options: McpServerOptions): McpServer {
  return mcpServerFactory(options)();
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

import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromJsonSchema, McpServer, ResourceTemplate } from '@modelcontextprotocol/server';
import { registry as packageRegistry } from 'replicate-flux-blocks/blocks/index.js';
import type { BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import type { HostEnvironment } from '../environment/environment.js';
import { libraryFile } from '../environment/library-files.js';
import { DEFAULT_MAX_IMAGE_BYTES, mediaTypeOf, SAVED_FILE_NAME, SAVED_FILE_URI } from './results.js';
import { blockTools, type BlockTool } from './tools.js';
import { graphInputSchema, GRAPH_OUTPUT_SCHEMA } from './graph-schemas.js';
import { runBlockTool, runGraphTool, type CallSettings } from './tool-calls.js';

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
 *   `credentials` (the server fills it with `withCredentials`); the result's
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
  const instructions = instructionsOf(options);
  const tools = blockTools(registry);
  const graphSchemas = {
    input: graphInputSchema(),
    output: fromJsonSchema(GRAPH_OUTPUT_SCHEMA),
  };
  const manifest = JSON.stringify(registry.manifest(), null, 2);
  const docs = docsPages(registry);
  const calls = callSettings(options, registry);

  return () => {
    const server = new McpServer(
      { name: 'flux-blocks', version },
      { capabilities: { tools: {}, resources: {} }, instructions },
    );
    registerBlockTools(server, tools, calls);
    registerRunGraph(server, graphSchemas, calls);
    registerManifest(server, manifest);
    registerDocs(server, docs);
    if (options.out !== undefined) registerSavedImages(server, options.out);
    return server;
  };
}

/** The server's `instructions`: the environment's description, how tools and results work, and where images are saved. */
function instructionsOf(options: McpServerOptions): string {
  return [
    options.environment.description,
    'Each tool runs one flux-blocks block (Flux image models on Replicate, or Save Image); run_graph runs several wired together.',
    'The server supplies the Replicate API key: leave credentials out. Results hold the outputs in structuredContent and each image as an image item.',
    'Replicate deletes its result URLs after about an hour.',
    ...(options.out !== undefined
      ? [`Images are saved into ${options.out} and linked as flux-blocks://out/ resources.`]
      : []),
  ].join(' ');
}

/** The docs pages served, by name: each block's and `errors`, those with a file under the library's `docs/`. */
function docsPages(registry: BlockRegistry): string[] {
  return [...registry.list().map((block) => block.name), 'errors'].filter((name) =>
    existsSync(libraryFile('docs', `${name}.md`)),
  );
}

/**
 * What tool calls run with: the environment's context with Replicate's sync wait cut to
 * {@link WAIT_SECONDS} (unless the environment set one) and saves into `out`, and result options.
 */
function callSettings(options: McpServerOptions, registry: BlockRegistry): CallSettings {
  const base = options.environment.context;
  const context: BlockContext = {
    ...base,
    runner: { ...base.runner, waitSeconds: base.runner?.waitSeconds ?? WAIT_SECONDS },
    save: { ...base.save, ...(options.out !== undefined && { dir: options.out }) },
  };
  const results = (signal: AbortSignal) => ({
    maxImageBytes: options.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
    out: options.out,
    fetch: context.save,
    signal,
  });
  return { registry, context, results };
}

/** Registers a tool per block ({@link blockTools}), each run by {@link runBlockTool}. */
function registerBlockTools(server: McpServer, tools: readonly BlockTool[], calls: CallSettings): void {
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
      (args, ctx) => runBlockTool(calls, tool, args, ctx),
    );
  }
}

/** The `run_graph` tool's input and output schemas, converted once from JSON Schema. */
interface GraphSchemas {
  readonly input: ReturnType<typeof graphInputSchema>;
  readonly output: ReturnType<typeof fromJsonSchema>;
}

/** Registers `run_graph`, run by {@link runGraphTool}. */
function registerRunGraph(server: McpServer, schemas: GraphSchemas, calls: CallSettings): void {
  server.registerTool(
    'run_graph',
    {
      title: 'Run Graph',
      description:
        "Runs a graph of blocks in the AutoGPT platform's shape: nodes (id, block_id: a block's id or name, input_default) and links (source_id, source_name, sink_id, sink_name). Values flow along links; returns every node's outputs. The server supplies credentials.",
      inputSchema: schemas.input,
      outputSchema: schemas.output,
      annotations: {
        title: 'Run Graph',
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: true,
      },
    },
    (args, ctx) => runGraphTool(calls, args, ctx),
  );
}

/** Registers `flux-blocks://manifest.json`: the registry's manifest, as JSON text. */
function registerManifest(server: McpServer, manifest: string): void {
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
}

/** Registers `flux-blocks://docs/<name>.md` per docs page, read from the library's `docs/` on each read. */
function registerDocs(server: McpServer, docs: readonly string[]): void {
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
}

/** Registers the `flux-blocks://out/{file}` template: a saved image in `out`, full size; other names are refused. */
function registerSavedImages(server: McpServer, out: string): void {
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

/** A server from {@link mcpServerFactory}, for one connection. */
export function createMcpServer(options: McpServerOptions): McpServer {
  return mcpServerFactory(options)();
}

import type { BlockContext } from 'replicate-flux-blocks/shared/framework/block.js';
import { fieldHints } from 'replicate-flux-blocks/shared/framework/fields.js';
import { shapeOf } from 'replicate-flux-blocks/shared/framework/json-schema.js';
import type { Block } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { startEmulator, type Emulator } from 'replicate-flux-emulator';
import { checkedBaseUrl, originsOf } from './urls.js';
import { openWebhook, type WebhookFlags } from './webhook.js';

/** Where a host process sends runs: flags that override the environment. */
export interface Target {
  /** Replicate or a compatible proxy; default `REPLICATE_BASE_URL`, else Replicate itself (with a token) or the embedded emulator. */
  readonly baseUrl?: string;
  /**
   * The origins the OpenAI-compatible key may go to, comma-separated (`--openai-compatible-origins`);
   * default `OPENAI_COMPATIBLE_ORIGINS`, else none (see {@link openEnvironment}).
   */
  readonly openAiOrigins?: string;
  /** Bound on each prediction, in ms; default the client's (10 minutes). */
  readonly timeoutMs?: number;
  /** Directory Save Image nodes (and hosts that save outputs) write into. Default `out`. */
  readonly out?: string;
  /** Webhooks instead of polling (`--webhook-url`, `--webhook-port`; see ./webhook.ts). Default: polling. */
  readonly webhook?: WebhookFlags;
}

/** A host process's connection to Replicate (or the embedded emulator), ready to run blocks. */
export interface HostEnvironment {
  /** Credentials, runner and save options for block runs; add a `signal` and `onProgress` per run. */
  readonly context: BlockContext;
  /** The embedded emulator, when neither a token nor a base URL was given; its URLs die with it. */
  readonly embedded?: Emulator;
  /** A sentence for people saying where runs go, e.g. for stderr or a server's instructions. */
  readonly description: string;
  /** Stops the embedded emulator, if any. */
  close(): Promise<void>;
}

/**
 * The environment variable each credentials provider's key is read from, by provider name;
 * `withCredentials` names it as the key's id.
 */
export const KEY_VARIABLES: Readonly<Record<string, string>> = {
  replicate: 'REPLICATE_API_TOKEN',
  openai_compatible: 'OPENAI_COMPATIBLE_API_KEY',
};

/**
 * The environment hosts run in (CLI, MCP server, studio, workers): the token from
 * `REPLICATE_API_TOKEN`, other providers' keys from {@link KEY_VARIABLES} (e.g.
 * `OPENAI_COMPATIBLE_API_KEY`, as `credentials.keys.openai_compatible`; any key for the
 * embedded emulator, which also speaks the OpenAI-style routes) and the origins that key may go
 * to from `target.openAiOrigins` or `OPENAI_COMPATIBLE_ORIGINS` (comma-separated, e.g.
 * `https://api.aggregator.example`, `*` for any origin on a public address; unset: none but the
 * embedded emulator's, which is always added when it runs), the base URL from
 * `target.baseUrl` or `REPLICATE_BASE_URL`, and with neither, an embedded emulator on 127.0.0.1 (placeholder images). Save Image writes into
 * `target.out` and may fetch from the base URL's own origin (a local emulator or proxy).
 * The token stays in `context.credentials`; `description` never holds it.
 * @throws {UsageError} (before anything starts) for a
 *   base URL that is not http(s) or holds `user:pass@`, or an origins list entry that is not an
 *   http(s) URL or `*`; messages never quote a password.
 */
export async function openEnvironment(
  target: Target = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<HostEnvironment> {
  let apiKey = env.REPLICATE_API_TOKEN || undefined;
  let baseUrl =
    checkedBaseUrl(target.baseUrl, '--base-url') ??
    checkedBaseUrl(env.REPLICATE_BASE_URL || undefined, 'REPLICATE_BASE_URL');
  // Where the OpenAI-compatible key may go: listed by the operator, since base_url is an input
  // (a graph's, an agent's). Checked here, before anything starts.
  const listedOrigins =
    target.openAiOrigins !== undefined
      ? originsOf(target.openAiOrigins, '--openai-compatible-origins')
      : originsOf(env.OPENAI_COMPATIBLE_ORIGINS, 'OPENAI_COMPATIBLE_ORIGINS');
  let embedded: Emulator | undefined;
  if (!apiKey && !baseUrl) {
    embedded = await startEmulator();
    baseUrl = embedded.url;
    apiKey = 'emulator';
  }
  const webhook = await openWebhook(target.webhook ?? {}).catch(async (error: unknown) => {
    await embedded?.close();
    throw error;
  });
  // Other providers' keys; the embedded emulator's OpenAI-style routes take any.
  const keys = Object.fromEntries(
    Object.entries(KEY_VARIABLES)
      .filter(([provider]) => provider !== 'replicate')
      .map(([provider, variable]) => [provider, env[variable] || (embedded ? 'emulator' : '')] as const)
      .filter(([, key]) => key),
  );
  const hasKeys = Object.keys(keys).length > 0;
  // The embedded emulator's OpenAI-style routes are this process's own: its key may always go there.
  const openAiOrigins = embedded
    ? [...new Set([...(listedOrigins ?? []), new URL(embedded.url).origin])]
    : listedOrigins;
  const description =
    (embedded
      ? `No REPLICATE_API_TOKEN or base URL set: using the embedded emulator at ${baseUrl} (placeholder images).`
      : `Running on ${baseUrl ?? 'https://api.replicate.com/v1'}.`) +
    (webhook.description ? ` ${webhook.description}` : '');
  return {
    context: {
      credentials:
        apiKey || hasKeys
          ? {
              apiKey,
              ...(hasKeys && { keys }),
              ...(openAiOrigins && { origins: { openai_compatible: openAiOrigins } }),
            }
          : undefined,
      runner: { baseUrl, timeoutMs: target.timeoutMs, ...webhook.runner },
      save: { dir: target.out, allowedOrigins: baseUrl && URL.canParse(baseUrl) ? [new URL(baseUrl).origin] : [] },
    },
    embedded,
    description,
    close: async () => {
      await webhook.close();
      await embedded?.close();
    },
  };
}

/**
 * The input with the `credentials` field filled in, when the block has one and it is not set:
 * a reference to the host's own key of the field's provider (its {@link KEY_VARIABLES} name,
 * e.g. `REPLICATE_API_TOKEN`), never the key itself.
 */
export function withCredentials(block: Block, input: unknown): unknown {
  const shape = shapeOf(block.inputSchema);
  if (!isPlainObject(input) || input.credentials !== undefined || !Object.hasOwn(shape, 'credentials')) return input;
  const provider = keyProvider(block)!;
  const id = KEY_VARIABLES[provider] ?? `${provider.toUpperCase()}_API_KEY`;
  const title = provider === 'replicate' ? 'Replicate API token from the environment' : `${id} from the environment`;
  return { credentials: { provider, id, type: 'api_key', title }, ...input };
}

/** The provider whose key a block's `credentials` field names (default `replicate`); undefined without that field. */
export function keyProvider(block: Block): string | undefined {
  const shape = shapeOf(block.inputSchema);
  if (!Object.hasOwn(shape, 'credentials')) return undefined;
  return fieldHints(shape.credentials!)?.credentials?.provider ?? 'replicate';
}

/**
 * The graph with {@link withCredentials} applied to each node whose `block_id` names a block
 * of `registry`; anything else (not a graph, unknown blocks) is left for `checkGraph` to refuse.
 */
export function graphWithCredentials(graph: unknown, registry: BlockRegistry): unknown {
  if (!isPlainObject(graph) || !Array.isArray(graph.nodes)) return graph;
  return {
    ...graph,
    nodes: graph.nodes.map((node: unknown) => {
      const block = isPlainObject(node) && typeof node.block_id === 'string' ? registry.get(node.block_id) : undefined;
      return block && isPlainObject(node)
        ? { ...node, input_default: withCredentials(block, node.input_default ?? {}) }
        : node;
    }),
  };
}

/** True for a JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

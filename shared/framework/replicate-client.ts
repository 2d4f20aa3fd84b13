import { BlockError } from '../core/errors.js';
import {
  createReplicateClient,
  type CallOptions,
  type ReplicateClient,
  type ReplicateClientOptions,
} from '../replicate/client.js';
import { outputUrls } from '../replicate/prediction-run.js';
import type { BlockContext } from './block.js';

/** How many clients {@link replicateClient} keeps for reuse, least recently used dropped first. */
const CACHED_CLIENTS = 64;
const clients = new Map<string, ReplicateClient>();
/** Numbers for the objects among a client's options (pacer, webhook receiver), to key it by. */
const objectIds = new WeakMap<object, number>();
let lastObjectId = 0;

/**
 * The Replicate client a block run uses, from the host's context: the token in
 * `credentials.apiKey` and the options in `runner`. Runs with the same token and options share
 * one client (hosts usually build a context per run): creating one checks its options and
 * builds its ky instance, about a twentieth of a run's CPU time against a fast API (measured,
 * docs/performance.md). The last 64 token-and-options pairs are kept.
 * @throws {BlockError} `invalid_input` when the host passed no token (the library reads no
 *   environment variable), and as `createReplicateClient` for bad options.
 */
export function replicateClient(context: BlockContext): ReplicateClient {
  const {
    onProgress: _,
    beforeCreate: _b,
    onCreated: _c,
    onCompleted: _e,
    detach: _d,
    ...options
  } = context.runner ?? {};
  const token = context.credentials?.apiKey;
  if (!token?.trim()) {
    throw new BlockError(
      'invalid_input',
      'credentials: no Replicate API token was given: the host must pass context.credentials.apiKey (the library reads no environment variable; the CLI reads REPLICATE_API_TOKEN)',
    );
  }
  const key = clientKey({ ...options, token });
  const cached = clients.get(key);
  if (cached) {
    clients.delete(key); // re-inserted below as the most recently used
    clients.set(key, cached);
    return cached;
  }
  const client = createReplicateClient({ ...options, token });
  clients.set(key, client);
  if (clients.size > CACHED_CLIENTS) clients.delete(clients.keys().next().value!);
  return client;
}

/** A string that is equal for equal options: their values, and the identity of the objects among them. */
function clientKey({ pacer, webhook, ...values }: ReplicateClientOptions): string {
  return JSON.stringify([values, idOf(pacer), webhook?.url, idOf(webhook?.receiver)]);
}

function idOf(object: object | undefined): number | undefined {
  if (object === undefined) return undefined;
  let id = objectIds.get(object);
  if (id === undefined) objectIds.set(object, (id = ++lastObjectId));
  return id;
}

/** The per-call options of a block run: the host's abort signal, progress callback and job hooks. */
export function callOptions(context: BlockContext): CallOptions {
  const { onProgress, beforeCreate, onCreated, onCompleted, detach } = context.runner ?? {};
  return { signal: context.signal, onProgress, beforeCreate, onCreated, onCompleted, detach };
}

/**
 * Runs a Replicate model the way this package's blocks do, and returns its output file URLs in
 * order (http(s) URLs, or `data:` URIs from a model that inlines them). The token, base URL,
 * retries, timeout, progress callback and abort signal come from the host's `context`; the
 * prediction is canceled on Replicate when the run is aborted.
 * Replicate API: POST /v1/models/{owner}/{name}/predictions (or POST /v1/predictions with a version).
 * @param model `owner/name` (an official model), `owner/name:<version>` or a bare version id.
 * @param input The model's input, as its schema on Replicate names the fields.
 * @throws {BlockError} of the kind the failure calls for (`invalid_input`, `unauthorized`,
 *   `model_failed`, `timed_out`, `host_aborted`, ... : docs/errors.md), which `runBlock` turns into
 *   the block's `error` output.
 */
export async function runModel(
  context: BlockContext,
  model: string,
  input: Readonly<Record<string, unknown>>,
): Promise<string[]> {
  return outputUrls(await replicateClient(context).run({ model, input }, callOptions(context)));
}

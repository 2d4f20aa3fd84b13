import { BlockError } from '../core/errors.js';
import { createReplicateClient, type CallOptions, type ReplicateClient } from '../replicate/client.js';
import type { BlockContext } from './block.js';

/**
 * The Replicate client a block run uses, from the host's context: the token in
 * `credentials.apiKey` and the options in `runner`.
 * @throws {BlockError} `invalid_input` when the host passed no token (the library reads no
 *   environment variable), and as `createReplicateClient` for bad options.
 */
export function replicateClient(context: BlockContext): ReplicateClient {
  const { onProgress: _, beforeCreate: _b, onCreated: _c, detach: _d, ...options } = context.runner ?? {};
  const token = context.credentials?.apiKey;
  if (!token?.trim()) {
    throw new BlockError(
      'invalid_input',
      'credentials: no Replicate API token was given: the host must pass context.credentials.apiKey (the library reads no environment variable; the CLI reads REPLICATE_API_TOKEN)',
    );
  }
  return createReplicateClient({ ...options, token });
}

/** The per-call options of a block run: the host's abort signal, progress callback and job hooks. */
export function callOptions(context: BlockContext): CallOptions {
  const { onProgress, beforeCreate, onCreated, detach } = context.runner ?? {};
  return { signal: context.signal, onProgress, beforeCreate, onCreated, detach };
}

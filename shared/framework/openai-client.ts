import { isIP } from 'node:net';
import { BlockError } from '../core/errors.js';
import { baseUrlProblem } from '../core/http-url.js';
import { fetchImage } from '../image/fetch-image.js';
import { isPrivateAddress } from '../image/private-address.js';
import { PrivateAddressError, publicFetch } from '../image/public-fetch.js';
import { createOpenAiClient, type OpenAiCallOptions, type OpenAiClient } from '../openai/client.js';
import type { ImagePart } from '../openai/types.js';
import type { BlockContext } from './block.js';

/** The provider name of OpenAI-compatible API keys, in credentials fields and in `context.credentials.keys`. */
export const OPENAI_COMPATIBLE = 'openai_compatible';

/** In `context.credentials.origins.openai_compatible`: any origin on a public address (not private, loopback or link-local). */
export const ANY_PUBLIC_ORIGIN = '*';

/** How an operator lists an origin, for messages. */
const HOW_TO_ALLOW = `list its origin in OPENAI_COMPATIBLE_ORIGINS or --openai-compatible-origins (flux-blocks: run, run-graph, mcp, studio, worker), or in context.credentials.origins.${OPENAI_COMPATIBLE} (the library)`;

/**
 * The OpenAI-compatible client a block run uses: the key in
 * `context.credentials.keys.openai_compatible` (never the Replicate token, which must not reach
 * another provider), the block's `baseUrl`, and the runner's `timeoutMs`.
 *
 * The key goes only where the host says, as `baseUrl` comes from a graph or an agent: to the
 * origins of `context.credentials.origins.openai_compatible` (default none, so nothing is sent
 * anywhere until the host lists an origin). A listed origin is trusted as it is, on any address;
 * the entry {@link ANY_PUBLIC_ORIGIN} (`*`) also allows every other origin, but only on public
 * addresses, checked on the address each request connects to. No redirect is followed.
 * @throws {BlockError} `invalid_input` when the host passed no such key, or `baseUrl`'s origin
 *   is not allowed (the message says how to allow it), and as `createOpenAiClient` for a bad
 *   base URL or timeout. A request under `*` that reaches a private address fails with
 *   `invalid_input` too, before anything is sent.
 */
export function openAiClient(context: BlockContext, baseUrl: string): OpenAiClient {
  const apiKey = context.credentials?.keys?.[OPENAI_COMPATIBLE];
  if (!apiKey?.trim()) {
    throw new BlockError(
      'invalid_input',
      `credentials: no API key of provider ${OPENAI_COMPATIBLE} was given: the host must pass context.credentials.keys.${OPENAI_COMPATIBLE} (the library reads no environment variable; the CLI reads OPENAI_COMPATIBLE_API_KEY)`,
    );
  }
  const problem = baseUrlProblem(baseUrl);
  if (problem) throw new BlockError('invalid_input', `base_url: ${problem}`);
  const origin = new URL(baseUrl).origin;
  const allowed = (context.credentials?.origins?.[OPENAI_COMPATIBLE] ?? []).map((entry) =>
    entry !== ANY_PUBLIC_ORIGIN && URL.canParse(entry) ? new URL(entry).origin : entry,
  );
  if (allowed.includes(origin)) return createOpenAiClient({ apiKey, baseUrl, timeoutMs: context.runner?.timeoutMs });
  if (!allowed.includes(ANY_PUBLIC_ORIGIN)) {
    const listed = allowed.length ? `only to ${allowed.join(', ')}` : 'to no origin yet';
    throw new BlockError(
      'invalid_input',
      `base_url: the host sends its ${OPENAI_COMPATIBLE} key ${listed}, not to ${origin}, so nothing was sent. To allow it, ${HOW_TO_ALLOW}`,
    );
  }
  const literal = new URL(baseUrl).hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal) && isPrivateAddress(literal)) throw privateRefusal(origin, literal);
  // Under `*`, the address each request connects to is checked (a name may resolve anywhere).
  const send: typeof fetch = (input, init) =>
    publicFetch(input, init).catch((error: unknown) => {
      throw error instanceof PrivateAddressError ? privateRefusal(origin, error.address) : error;
    });
  return createOpenAiClient({ apiKey, baseUrl, timeoutMs: context.runner?.timeoutMs, fetch: send });
}

/** The refusal of an origin allowed by `*` only that is, or resolves to, a private address. */
function privateRefusal(origin: string, address: string): BlockError {
  return new BlockError(
    'invalid_input',
    `base_url: ${origin} is or resolves to ${address}, a private, loopback or link-local address, which ${ANY_PUBLIC_ORIGIN} does not allow, so nothing was sent. To allow it, ${HOW_TO_ALLOW}`,
  );
}

/** The per-call options of a block run: the host's abort signal. */
export function openAiCallOptions(context: BlockContext): OpenAiCallOptions {
  return { signal: context.signal };
}

/**
 * Reference images as multipart parts, in order: each source (an http(s) URL, a `data:` URI,
 * or a local path where the host allows it) read by `fetchImage` with the host's `save` rules
 * (private addresses refused unless their origin is trusted, size limit), named
 * `image-<n>.<ext>` with the type its bytes show.
 * @throws {BlockError} as `fetchImage`, the message naming the field and index.
 */
export async function referenceImages(
  sources: readonly string[],
  context: BlockContext,
  field = 'images',
): Promise<ImagePart[]> {
  return Promise.all(
    sources.map(async (source, i) => {
      try {
        const image = await fetchImage(source, context.save, context.signal);
        return {
          blob: new Blob([image.bytes], { type: image.contentType }),
          filename: `image-${i + 1}.${image.extension}`,
        };
      } catch (error) {
        if (error instanceof BlockError) throw new BlockError(error.kind, `${field}.${i}: ${error.detail}`);
        throw error;
      }
    }),
  );
}

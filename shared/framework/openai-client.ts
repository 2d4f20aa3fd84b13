import { BlockError } from '../core/errors.js';
import { fetchImage } from '../image/fetch-image.js';
import { createOpenAiClient, type OpenAiCallOptions, type OpenAiClient } from '../openai/client.js';
import type { ImagePart } from '../openai/types.js';
import type { BlockContext } from './block.js';

/** The provider name of OpenAI-compatible API keys, in credentials fields and in `context.credentials.keys`. */
export const OPENAI_COMPATIBLE = 'openai_compatible';

/**
 * The OpenAI-compatible client a block run uses: the key in
 * `context.credentials.keys.openai_compatible` (never the Replicate token, which must not reach
 * another provider), the block's `baseUrl`, and the runner's `timeoutMs`.
 * @throws {BlockError} `invalid_input` when the host passed no such key, or `baseUrl` is not of
 *   an origin the host allows that key to go to (`context.credentials.origins`), and as
 *   `createOpenAiClient` for a bad base URL or timeout.
 */
export function openAiClient(context: BlockContext, baseUrl: string): OpenAiClient {
  const apiKey = context.credentials?.keys?.[OPENAI_COMPATIBLE];
  if (!apiKey?.trim()) {
    throw new BlockError(
      'invalid_input',
      `credentials: no API key of provider ${OPENAI_COMPATIBLE} was given: the host must pass context.credentials.keys.${OPENAI_COMPATIBLE} (the library reads no environment variable; the CLI reads OPENAI_COMPATIBLE_API_KEY)`,
    );
  }
  const allowed = context.credentials?.origins?.[OPENAI_COMPATIBLE];
  if (allowed && !(URL.canParse(baseUrl) && allowed.includes(new URL(baseUrl).origin))) {
    throw new BlockError(
      'invalid_input',
      `base_url: the host sends its ${OPENAI_COMPATIBLE} key only to ${allowed.join(', ') || 'no origin'}`,
    );
  }
  return createOpenAiClient({ apiKey, baseUrl, timeoutMs: context.runner?.timeoutMs });
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

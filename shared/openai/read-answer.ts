// Reading a provider's answer with a bound: an OpenAI-compatible API is whatever the operator points
// at, and an endless or huge body must not take the host's memory.

/** Largest answer read from an OpenAI-compatible API, in bytes: four large images as base64 fit. */
export const MAX_ANSWER_BYTES = 128 << 20;
/** Largest error answer read, in bytes: only an excerpt of it is ever shown. */
export const MAX_ERROR_BYTES = 64 << 10;

/**
 * The body of `response` as text, read up to `maxBytes` (bytes); the rest is not read and the body
 * is canceled. `complete` is false when the body was longer.
 */
export async function readAnswer(response: Response, maxBytes: number): Promise<{ text: string; complete: boolean }> {
  if (!response.body) return { text: '', complete: true };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      chunks.push(value.subarray(0, value.byteLength - (size - maxBytes)));
      await reader.cancel().catch(() => undefined);
      return { text: Buffer.concat(chunks).toString('utf8'), complete: false };
    }
    chunks.push(value);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), complete: true };
}

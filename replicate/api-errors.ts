import { HTTPError, TimeoutError as KyTimeoutError } from 'ky';
import { z } from 'zod';
import { BlockError, type ErrorKind } from '../core/errors.js';

/** The system error code of a fetch network failure (`ECONNREFUSED`, `ECONNRESET`, ...). */
export function networkCode(error: unknown): string | undefined {
  // fetch reports network failures as a TypeError whose cause is the system error. By name:
  // fetch may come from another realm (jest's VM modules), where instanceof fails.
  if ((error as Error | undefined)?.name !== 'TypeError') return undefined;
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : undefined;
}

const problemSchema = z.object({
  title: z.string().optional(),
  detail: z.string().optional(),
  status: z.number().optional(),
  invalid_fields: z
    .array(z.object({ field: z.string().optional(), description: z.string().optional(), type: z.string().optional() }))
    .optional(),
});

const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  UND_ERR_SOCKET: 'connection closed by the server',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'connection timed out',
};

const KIND_BY_STATUS: Record<number, ErrorKind> = { 401: 'unauthorized', 403: 'unauthorized', 404: 'not_found', 422: 'rejected_input', 429: 'rate_limited' };

/**
 * Any failure of a request as a {@link BlockError}: HTTP errors with Replicate's problem detail
 * (`{title, detail, status, invalid_fields?}`, Replicate API error responses), timeouts and
 * network errors naming the cause. A BlockError passes through.
 */
export async function toBlockError(error: unknown, baseUrl: string): Promise<BlockError> {
  if (error instanceof BlockError) return error;
  if (error instanceof HTTPError) {
    const { status, statusText } = error.response;
    const text = await error.response.text().catch(() => '');
    let problem: z.infer<typeof problemSchema>;
    try {
      problem = problemSchema.parse(JSON.parse(text));
    } catch {
      problem = { detail: text.replace(/\s+/g, ' ').trim().slice(0, 200) || undefined };
    }
    const fields = (problem.invalid_fields ?? []).map((f) => f.description ?? f.field).filter(Boolean);
    const detail = (fields.length ? fields.join('; ') : problem.detail)?.replace(/\.$/, '');
    const kind = KIND_BY_STATUS[status] ?? 'api_error';
    return new BlockError(kind, `Replicate API error ${status} ${problem.title ?? statusText}${detail ? `: ${detail}` : ''}`);
  }
  if (error instanceof KyTimeoutError) {
    const { method, url } = error.request;
    return new BlockError('unreachable', `The Replicate API at ${baseUrl} did not answer ${method} ${new URL(url).pathname} in time`);
  }
  const code = networkCode(error);
  if (code) {
    const words = NETWORK_WORDS[code];
    return new BlockError('unreachable', `The connection to the Replicate API at ${baseUrl} failed: ${code}${words ? ` (${words})` : ''}`);
  }
  return new BlockError('internal', `Unexpected error: ${error instanceof Error ? error.message : String(error)}`);
}

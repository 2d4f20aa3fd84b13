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

/**
 * Network failures that prove a request never reached a server: the name did not resolve
 * (`ENOTFOUND`, `EAI_AGAIN`), the connection was refused, or fetch refused the port itself
 * (`bad port`: the Fetch standard's blocked ports, such as 6000).
 */
const NEVER_REACHED = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'bad port']);

/** True when `error` shows its request never reached a server, so it created nothing. */
export function neverReached(error: unknown): boolean {
  const code = networkCode(error);
  return code !== undefined && NEVER_REACHED.has(code);
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
  'bad port': 'a port fetch refuses to connect to',
};

const KIND_BY_STATUS: Record<number, ErrorKind> = {
  400: 'request_rejected',
  401: 'unauthorized',
  402: 'insufficient_credit',
  403: 'unauthorized',
  404: 'not_found',
  413: 'request_rejected',
  422: 'rejected_input',
  429: 'rate_limited',
};

// Replicate's 422 for a version that does not exist or that the account may not use.
const INVALID_VERSION = /invalid version|not permitted/i;

/**
 * One entry of a 422's `invalid_fields` as `field: reason`: the field without Replicate's
 * `input.` prefix, and the description, which names the field itself only for some rules
 * (`num_inference_steps: Must be less than or equal to 4`, `prompt is required`).
 */
function invalidField({ field, description }: { field?: string; description?: string }): string | undefined {
  const name = field?.replace(/^input\./, '');
  if (!description) return name;
  return !name || description.startsWith(name) ? description : `${name}: ${description}`;
}

/** A problem's `detail` on one line: Replicate lists fields as `- input.x: why` lines. */
function oneLine(detail: string): string {
  return detail
    .split('\n')
    .map((line) => line.replace(/^\s*-\s*(input\.)?/, '').trim())
    .filter(Boolean)
    .join('; ');
}

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
    const fields = (problem.invalid_fields ?? []).map(invalidField).filter(Boolean);
    const detail = (fields.length ? fields.join('; ') : problem.detail && oneLine(problem.detail))?.replace(/\.$/, '');
    const versionRefused =
      status === 422 && !fields.length && INVALID_VERSION.test(`${problem.title} ${problem.detail}`);
    const kind = versionRefused ? 'invalid_version' : (KIND_BY_STATUS[status] ?? 'api_error');
    return new BlockError(
      kind,
      `Replicate API error ${status} ${problem.title ?? statusText}${detail ? `: ${detail}` : ''}`,
    );
  }
  if (error instanceof KyTimeoutError) {
    const { method, url } = error.request;
    return new BlockError(
      'unreachable',
      `The Replicate API at ${baseUrl} did not answer ${method} ${new URL(url).pathname} in time`,
    );
  }
  const code = networkCode(error);
  if (code) {
    const words = NETWORK_WORDS[code];
    const what = `${code}${words ? ` (${words})` : ''}`;
    if (neverReached(error))
      return new BlockError(
        'unreachable',
        `The Replicate API at ${baseUrl} was not reached: ${what}; nothing was sent to it`,
      );
    return new BlockError('unreachable', `The connection to the Replicate API at ${baseUrl} failed: ${what}`);
  }
  return new BlockError('internal', `Unexpected error: ${error instanceof Error ? error.message : String(error)}`);
}

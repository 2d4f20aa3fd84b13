import { HTTPError, TimeoutError as KyTimeoutError } from 'ky';
import { BlockError, type ErrorKind } from '../core/errors.js';
import { networkCode } from '../replicate/api-errors.js';
import { errorBodySchema } from './types.js';

const KIND_BY_STATUS: Record<number, ErrorKind> = {
  400: 'provider_rejected',
  401: 'provider_unauthorized',
  402: 'provider_quota',
  403: 'provider_unauthorized',
  404: 'provider_rejected',
  413: 'provider_rejected',
  422: 'provider_rejected',
  429: 'rate_limited',
};

// OpenAI's codes for a refused prompt or image, and for an account out of credit.
const SAFETY_CODES = new Set(['content_policy_violation', 'moderation_blocked', 'content_filter']);
const QUOTA_CODES = new Set(['insufficient_quota', 'billing_hard_limit_reached']);

/** The error object of an OpenAI-style error body, or undefined when the text is not one. */
export function readErrorBody(text: string) {
  try {
    const parsed = errorBodySchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.error : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Any failure of a request to an OpenAI-compatible API as a {@link BlockError}. HTTP errors are
 * read as OpenAI's error body (`{"error": {"message", "type", "param", "code"}}`): 401 and 403
 * `provider_unauthorized`; 400, 404, 413 and 422 `provider_rejected` (naming `param` when
 * given), or `safety_filter` for a `content_policy_violation`; 402 and an `insufficient_quota`
 * 429 `provider_quota`; other 429s `rate_limited`; anything else `provider_error`. Network
 * failures are `unreachable`. A BlockError passes through.
 */
export async function toBlockError(error: unknown, baseUrl: string): Promise<BlockError> {
  if (error instanceof BlockError) return error;
  if (error instanceof HTTPError) {
    const { status, statusText } = error.response;
    const text = await error.response.text().catch(() => '');
    const body = readErrorBody(text);
    const code = body?.code === undefined || body.code === null ? undefined : String(body.code);
    const label = code ?? body?.type ?? statusText;
    const message = body ? body.message?.replace(/\.$/, '') : text.replace(/\s+/g, ' ').trim().slice(0, 200);
    const param = body?.param ? ` (param: ${body.param})` : '';
    const kind: ErrorKind =
      code && SAFETY_CODES.has(code)
        ? 'safety_filter'
        : (code && QUOTA_CODES.has(code)) || body?.type === 'insufficient_quota'
          ? 'provider_quota'
          : (KIND_BY_STATUS[status] ?? 'provider_error');
    return new BlockError(
      kind,
      `The OpenAI-compatible API at ${baseUrl} answered ${status}${label ? ` ${label}` : ''}${param}${message ? `: ${message}` : ''}`,
    );
  }
  if (error instanceof KyTimeoutError) {
    return new BlockError(
      'unreachable',
      `The OpenAI-compatible API at ${baseUrl} did not answer ${error.request.method} ${new URL(error.request.url).pathname} in time`,
    );
  }
  const code = networkCode(error);
  if (code)
    return new BlockError('unreachable', `The connection to the OpenAI-compatible API at ${baseUrl} failed: ${code}`);
  return new BlockError('internal', `Unexpected error: ${error instanceof Error ? error.message : String(error)}`);
}

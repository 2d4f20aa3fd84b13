import { HTTPError } from 'ky';
import { BlockError, type ErrorKind } from '../core/errors.js';
import { networkCode } from '../replicate/api-errors.js';
import { excerpt } from './chat-images.js';
import { MAX_ERROR_BYTES, readAnswer } from './read-answer.js';
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

/** Longest excerpt of a provider's text in a message, in characters: enough to see what it said, too little to relay a page. */
const EXCERPT = 200;
/** Longest `type`, `code`, `param` or status text quoted, in characters. */
const LABEL = 60;

/**
 * Any failure of a request to an OpenAI-compatible API as a {@link BlockError}. HTTP errors are
 * read as OpenAI's error body (`{"error": {"message", "type", "param", "code"}}`): 401 and 403
 * `provider_unauthorized`; 400, 404, 413 and 422 `provider_rejected` (naming `param` when
 * given), or `safety_filter` for a `content_policy_violation`; 402 and an `insufficient_quota`
 * 429 `provider_quota`; other 429s `rate_limited`; anything else `provider_error`. Network
 * failures are `unreachable`. A redirect (3xx, never followed) is `provider_error` naming only
 * the origin it points to. Whatever the provider wrote is quoted in short excerpts only (its
 * message or body: 200 characters; `type`, `code`, `param`, status text: 60), so an answer
 * relayed from elsewhere cannot come back whole. A BlockError passes through.
 */
export async function toBlockError(error: unknown, baseUrl: string): Promise<BlockError> {
  if (error instanceof BlockError) return error;
  if (error instanceof HTTPError) {
    const { status } = error.response;
    if (status >= 300 && status < 400) return redirected(error.response, baseUrl);
    const statusText = excerpt(error.response.statusText, LABEL);
    const { text } = await readAnswer(error.response, MAX_ERROR_BYTES).catch(() => ({ text: '' }));
    const body = readErrorBody(text);
    const code = body?.code === undefined || body.code === null ? undefined : excerpt(String(body.code), LABEL);
    const label = code ?? (body?.type ? excerpt(body.type, LABEL) : statusText);
    const message = excerpt(body ? (body.message ?? '').replace(/\.$/, '') : text, EXCERPT);
    const param = body?.param ? ` (param: ${excerpt(body.param, LABEL)})` : '';
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
  const code = networkCode(error);
  if (code)
    return new BlockError('unreachable', `The connection to the OpenAI-compatible API at ${baseUrl} failed: ${code}`);
  return new BlockError('internal', `Unexpected error: ${error instanceof Error ? error.message : String(error)}`);
}

/** A 3xx answer: not followed, naming only the origin of its `Location` (a path or query could hold anything). */
function redirected(response: Response, baseUrl: string): BlockError {
  // Its body is never read: let go of the connection.
  void response.body?.cancel().catch(() => undefined);
  const location = response.headers.get('location');
  const target = location && URL.canParse(location, baseUrl) ? new URL(location, baseUrl).origin : undefined;
  return new BlockError(
    'provider_error',
    `The OpenAI-compatible API at ${baseUrl} answered ${response.status} with a redirect${target ? ` to ${target}` : ''}, which is not followed: the key and the request go to base_url's origin only. Set base_url to where the provider answers`,
  );
}

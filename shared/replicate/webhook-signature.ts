import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Replicate's webhook signatures (replicate.com/docs/topics/webhooks/verify-webhook, the
 * Standard Webhooks scheme): each delivery carries `webhook-id`, `webhook-timestamp` (epoch s)
 * and `webhook-signature`, a space-separated list of `v1,<base64>` entries, each the
 * HMAC-SHA256 of `${id}.${timestamp}.${body}` keyed with the base64 part of the `whsec_...` secret.
 */

/** Default tolerance between a delivery's `webhook-timestamp` and now, in s: 5 minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** The three signature headers of a delivery, as sent. */
export interface WebhookHeaders {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
}

/**
 * The HMAC key of a `whsec_<base64>` secret.
 * @throws {Error} when it holds no key, naming where the secret comes from.
 */
export function webhookKey(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  if (!key.length)
    throw new Error('webhook secret: no key after whsec_; use the whole secret from GET /v1/webhooks/default/secret');
  return key;
}

/** The `v1,<base64>` signature of one delivery. */
export function signWebhook(secret: string, id: string, timestamp: number | string, body: string): string {
  return `v1,${createHmac('sha256', webhookKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * Why a delivery is refused on its headers alone, before its body is read: a missing
 * `webhook-id`, `webhook-timestamp` or `webhook-signature`, or a timestamp more than
 * `toleranceSeconds` (default 300) from `now` (epoch ms, default the clock). Undefined when
 * they may hold a valid delivery.
 */
export function webhookHeaderRefusal(
  headers: (name: string) => string | null | undefined,
  { toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, now = Date.now() }: { toleranceSeconds?: number; now?: number } = {},
): string | undefined {
  const id = headers('webhook-id');
  const timestamp = headers('webhook-timestamp');
  const signatures = headers('webhook-signature');
  if (!id || !timestamp || !signatures) return 'missing webhook-id, webhook-timestamp or webhook-signature';
  if (!/^\d+$/.test(timestamp) || Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds)
    return 'webhook-timestamp outside the tolerance';
  return undefined;
}

/** Why a delivery was refused, or undefined when it is authentic and fresh. */
export function webhookRefusal(
  headers: (name: string) => string | null | undefined,
  body: string,
  secret: string,
  { toleranceSeconds = DEFAULT_TOLERANCE_SECONDS, now = Date.now() }: { toleranceSeconds?: number; now?: number } = {},
): string | undefined {
  const early = webhookHeaderRefusal(headers, { toleranceSeconds, now });
  if (early) return early;
  const id = headers('webhook-id')!;
  const timestamp = headers('webhook-timestamp')!;
  const signatures = headers('webhook-signature')!;
  const expected = Buffer.from(signWebhook(secret, id, timestamp, body).slice(3), 'base64');
  // Constant time per entry; the list may hold signatures of several secrets during rotation.
  const match = signatures.split(' ').some((entry) => {
    const [version, signature] = entry.split(',', 2);
    if (version !== 'v1' || !signature) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return match ? undefined : 'no valid v1 signature';
}

/** A delivery as a host's own server has it: a fetch `Request`, or its headers and raw body text. */
export type WebhookRequest =
  | Request
  | { readonly headers: Headers | Readonly<Record<string, string | string[] | undefined>>; readonly body: string };

/**
 * Whether a webhook delivery is from Replicate: its `webhook-signature` holds a valid `v1`
 * entry for `secret` (`whsec_...`, from GET /v1/webhooks/default/secret) and its
 * `webhook-timestamp` is within `toleranceSeconds` of now (default 300). Unlike the official
 * client's helper, the timestamp is checked, so an old delivery cannot be replayed. Replays of a
 * recent delivery are for the caller to catch by `webhook-id` ({@link createWebhookReceiver} does).
 * @param request a fetch `Request` (its body is read), or `{ headers, body }` with the raw body text.
 */
export async function validateWebhook(
  request: WebhookRequest,
  secret: string,
  { toleranceSeconds }: { toleranceSeconds?: number } = {},
): Promise<boolean> {
  const body = request instanceof Request ? await request.clone().text() : request.body;
  const { headers } = request;
  const get =
    headers instanceof Headers
      ? (name: string) => headers.get(name)
      : (name: string) => {
          const value = (headers as Record<string, string | string[] | undefined>)[name];
          return Array.isArray(value) ? value.join(' ') : value;
        };
  return webhookRefusal(get, body, secret, { toleranceSeconds }) === undefined;
}

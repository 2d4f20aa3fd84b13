import type { RunnerOptions } from 'replicate-flux-blocks/shared/framework/block.js';
import { createWebhookReceiver } from 'replicate-flux-blocks/shared/replicate/webhooks.js';
import { UsageError } from './usage-error.js';

/** The CLI's webhook flags, for `parseArgs` (`run`, `run-graph`). */
export const WEBHOOK_OPTIONS = { 'webhook-url': { type: 'string' }, 'webhook-port': { type: 'string' } } as const;

/** Webhook flag values as `parseArgs` gives them. */
export interface WebhookFlags {
  /** `--webhook-url`: the public URL Replicate calls (e.g. a tunnel to the local receiver). */
  readonly 'webhook-url'?: string;
  /** `--webhook-port`: the port the local receiver listens on, on 127.0.0.1. */
  readonly 'webhook-port'?: string;
}

/** A host's webhook receiver, when asked for: the runner options that use it, and its close. */
export interface HostWebhook {
  readonly runner: Pick<RunnerOptions, 'webhook'>;
  /** Where the receiver listens, for people; undefined without webhooks. */
  readonly description?: string;
  close(): Promise<void>;
}

/**
 * Starts the webhook receiver the flags ask for, on 127.0.0.1:`--webhook-port`. Runs then wait
 * for Replicate's deliveries to `--webhook-url` instead of polling. Without `--webhook-url`
 * the URL is the receiver's own local one (for the embedded emulator or a local proxy); with
 * it, `--webhook-port` is needed, as a tunnel forwards to a known port. The secret comes from
 * `REPLICATE_WEBHOOK_SECRET`, else from Replicate (GET /v1/webhooks/default/secret).
 * With neither flag: no receiver, runs poll.
 * @throws {UsageError} for a bad port or URL.
 */
export async function openWebhook(flags: WebhookFlags): Promise<HostWebhook> {
  const { 'webhook-url': url, 'webhook-port': portFlag } = flags;
  if (url === undefined && portFlag === undefined) return { runner: {}, close: async () => undefined };
  if (url !== undefined && !(URL.canParse(url) && /^https?:$/.test(new URL(url).protocol)))
    throw new UsageError('--webhook-url takes an http(s) URL');
  if (url !== undefined && portFlag === undefined)
    throw new UsageError('--webhook-url needs --webhook-port: the local port the URL forwards to');
  const port = Number(portFlag ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError('--webhook-port takes a TCP port number (0-65535)');
  const receiver = createWebhookReceiver();
  const server = await receiver.listen(port);
  return {
    runner: { webhook: { url: url ?? server.url, receiver } },
    description: `Waiting for webhooks at ${url ?? server.url}${url ? ` (received on ${server.url})` : ''}.`,
    close: () => server.close(),
  };
}

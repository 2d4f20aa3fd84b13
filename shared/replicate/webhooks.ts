import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_TOLERANCE_SECONDS, webhookRefusal } from './webhook-signature.js';
import { predictionSchema, type Prediction } from './types.js';

/** Largest delivery body accepted by default, in bytes: a prediction with its input and logs. */
const DEFAULT_MAX_BODY_BYTES = 4 << 20;
/** How many delivery ids are remembered to refuse replays; older ones are past the tolerance anyway. */
const MAX_SEEN_IDS = 100_000;
/** How many predictions nobody waits for yet keep their latest delivery (one may arrive before its create's answer). */
const MAX_UNCLAIMED = 10_000;

/** How a receiver checks deliveries; every field is optional. */
export interface WebhookReceiverOptions {
  /**
   * The signing secret, `whsec_...`. Default `REPLICATE_WEBHOOK_SECRET`, else the secret of the
   * first client that runs with this receiver (Replicate API: GET /v1/webhooks/default/secret,
   * fetched once and cached).
   */
  readonly secret?: string;
  /** Largest gap between a delivery's `webhook-timestamp` and now, in s. Default 300. */
  readonly toleranceSeconds?: number;
  /** Largest delivery body, in bytes; larger ones get 413. Default 4194304 (4 MiB). */
  readonly maxBodyBytes?: number;
}

/** A running standalone receiver. */
export interface ListeningReceiver {
  /** Its local URL, e.g. `http://127.0.0.1:8787/` (Replicate needs a public one, e.g. a tunnel to it). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Receives Replicate's webhook deliveries and hands each verified one to the run waiting for
 * its prediction. Pass it with the public URL Replicate should call as the client's `webhook`.
 */
export interface WebhookReceiver {
  /**
   * Node request handler, to mount in a host's own server at the webhook URL's path. Answers
   * 200 to a verified delivery (also to a replay of one, which is ignored, as Replicate resends
   * a delivery whose answer it did not see), 401 to an unverified one, 413 to an oversized one,
   * 405 to anything but POST; only verified deliveries have an effect.
   */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Serves {@link handler} on its own HTTP server, on `host` (default 127.0.0.1) and `port` (0: a free one). */
  listen(port: number, host?: string): Promise<ListeningReceiver>;
  /**
   * Calls `listener` with each verified delivery's prediction for `id` (the latest one that
   * came before, if any, at once), until the returned function is called. Used by the client.
   */
  subscribe(id: string, listener: (prediction: Prediction) => void): () => void;
  /** Sets the secret from `load` unless the receiver has one; loads once. Used by the client before it creates. */
  useSecret(load: () => Promise<string>): Promise<void>;
}

/** A webhook receiver; see {@link WebhookReceiver}. */
export function createWebhookReceiver({
  secret: given,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
}: WebhookReceiverOptions = {}): WebhookReceiver {
  let secret: Promise<string> | undefined =
    (given ?? process.env.REPLICATE_WEBHOOK_SECRET)
      ? Promise.resolve((given ?? process.env.REPLICATE_WEBHOOK_SECRET)!)
      : undefined;
  const seen = new Set<string>();
  const listeners = new Map<string, Set<(prediction: Prediction) => void>>();
  const unclaimed = new Map<string, Prediction>();

  function deliver(prediction: Prediction): void {
    const waiting = listeners.get(prediction.id);
    if (waiting) return waiting.forEach((listener) => listener(prediction));
    unclaimed.delete(prediction.id);
    unclaimed.set(prediction.id, prediction);
    if (unclaimed.size > MAX_UNCLAIMED) unclaimed.delete(unclaimed.keys().next().value!);
  }

  async function receive(req: IncomingMessage): Promise<number> {
    if (req.method !== 'POST') return 405;
    const chunks: Buffer[] = [];
    let size = Number(req.headers['content-length'] ?? 0);
    if (size > maxBodyBytes) return 413;
    size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBodyBytes) return 413;
      chunks.push(chunk as Buffer);
    }
    const key = await secret?.catch(() => undefined);
    if (!key) return 401;
    const body = Buffer.concat(chunks).toString('utf8');
    const header = (name: string) => req.headers[name]?.toString();
    if (webhookRefusal(header, body, key, { toleranceSeconds })) return 401;
    const id = header('webhook-id')!;
    if (seen.has(id)) return 200;
    let parsed: ReturnType<typeof predictionSchema.safeParse>;
    try {
      parsed = predictionSchema.safeParse(JSON.parse(body));
    } catch {
      return 400;
    }
    if (!parsed.success) return 400;
    seen.add(id);
    if (seen.size > MAX_SEEN_IDS) seen.delete(seen.values().next().value!);
    deliver(parsed.data);
    return 200;
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    receive(req).then(
      (status) => {
        // An unread rest of an oversized body would keep the connection busy: close it.
        res.writeHead(status, status === 413 ? { Connection: 'close' } : {}).end();
      },
      () => res.writeHead(400, { Connection: 'close' }).end(),
    );
  };

  return {
    handler,
    async listen(port, host = '127.0.0.1') {
      const server = createServer(handler);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      return {
        url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}/`,
        close: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      };
    },
    subscribe(id, listener) {
      let set = listeners.get(id);
      if (!set) listeners.set(id, (set = new Set()));
      set.add(listener);
      const early = unclaimed.get(id);
      unclaimed.delete(id);
      if (early) listener(early);
      return () => {
        set.delete(listener);
        if (!set.size) listeners.delete(id);
      };
    },
    async useSecret(load) {
      if (!secret) {
        secret = load();
        // A failed load is tried again by the next run.
        secret.catch(() => (secret = undefined));
      }
      await secret;
    },
  };
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_TOLERANCE_SECONDS, webhookHeaderRefusal, webhookKey, webhookRefusal } from './webhook-signature.js';
import { predictionSchema, type Prediction } from './types.js';

/** Largest delivery body accepted by default, in bytes: a prediction with its input and logs. */
const DEFAULT_MAX_BODY_BYTES = 4 << 20;
/**
 * How many deliveries are read at once by default. Replicate sends a few per prediction (start,
 * logs, completed) and retries a `completed` one it did not get a 2xx for; the safety poll finds
 * one lost all the same. So one more is answered 503 rather than queued in memory.
 */
const DEFAULT_MAX_CONCURRENT = 16;
/** Longest time a delivery's body may take to arrive by default, in ms: a slow sender holds a slot no longer. */
const DEFAULT_READ_TIMEOUT_MS = 10_000;
/** Seconds a 503 asks Replicate to wait before it retries (`Retry-After`). */
const RETRY_AFTER_SECONDS = 5;
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
  /**
   * Largest delivery body, in bytes; larger ones get 413, on their `content-length` before any
   * byte is read, or as soon as a chunked body passes it. Default 4194304 (4 MiB).
   */
  readonly maxBodyBytes?: number;
  /**
   * How many deliveries' bodies are read at once; one more gets 503 with `Retry-After: 5`
   * unread (Replicate retries a delivery that failed). Default 16.
   */
  readonly maxConcurrentDeliveries?: number;
  /**
   * Longest a delivery's body may take to arrive, in ms; a slower one is cut off (its connection
   * closed). Its headers have as long (a stalled one gets 408 from {@link WebhookReceiver.listen}'s
   * server). Default 10000.
   */
  readonly readTimeoutMs?: number;
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
   * 405 to anything but POST; only verified deliveries have an effect. A delivery is refused on
   * its headers before its body is read (401 for missing signature headers, a stale
   * `webhook-timestamp` or no secret yet; 413 for a `content-length` over the limit; 503 with
   * `Retry-After` when `maxConcurrentDeliveries` are being read), and those answers close the
   * connection.
   */
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Serves {@link handler} on its own HTTP server, on `host` (default 127.0.0.1) and `port` (0: a free one). */
  listen(port: number, host?: string): Promise<ListeningReceiver>;
  /**
   * Calls `listener` with each verified delivery's prediction for `id` (the latest one that
   * came before, if any, at once), until the returned function is called. Used by the client.
   * A training's deliveries come the same way, by the training's id: Replicate sends the
   * training object, which has a prediction's shape (`trainVersion` reads it as a training).
   */
  subscribe(id: string, listener: (prediction: Prediction) => void): () => void;
  /** Sets the secret from `load` unless the receiver has one; loads once. Used by the client before it creates. */
  useSecret(load: () => Promise<string>): Promise<void>;
}

/**
 * A webhook receiver; see {@link WebhookReceiver}.
 * @throws {Error} when the secret (given or `REPLICATE_WEBHOOK_SECRET`) holds no key after `whsec_`.
 */
export function createWebhookReceiver({
  secret: given,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
  maxConcurrentDeliveries = DEFAULT_MAX_CONCURRENT,
  readTimeoutMs = DEFAULT_READ_TIMEOUT_MS,
}: WebhookReceiverOptions = {}): WebhookReceiver {
  const configured = given || process.env.REPLICATE_WEBHOOK_SECRET || undefined;
  // A secret without a key would answer 401 to every delivery: refused here instead.
  if (configured !== undefined) webhookKey(configured);
  let secret: Promise<string> | undefined = configured === undefined ? undefined : Promise.resolve(configured);
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

  let reading = 0;

  /** The answer's status, and whether the body was left unread (the connection must then close). */
  async function receive(req: IncomingMessage): Promise<{ status: number; unread?: boolean }> {
    if (req.method !== 'POST') return { status: 405, unread: true };
    const header = (name: string) => req.headers[name]?.toString();
    // Everything the headers can tell is checked before a byte of the body is read.
    if (webhookHeaderRefusal(header, { toleranceSeconds })) return { status: 401, unread: true };
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) return { status: 413, unread: true };
    const key = await secret?.catch(() => undefined);
    if (!key) return { status: 401, unread: true };
    if (reading >= maxConcurrentDeliveries) return { status: 503, unread: true };
    reading += 1;
    let body: string;
    try {
      const read = await readBody(req, maxBodyBytes, readTimeoutMs);
      if (typeof read === 'number') return { status: read, unread: true };
      body = read;
    } finally {
      reading -= 1;
    }
    if (webhookRefusal(header, body, key, { toleranceSeconds })) return { status: 401 };
    const id = header('webhook-id')!;
    if (seen.has(id)) return { status: 200 };
    let parsed: ReturnType<typeof predictionSchema.safeParse>;
    try {
      parsed = predictionSchema.safeParse(JSON.parse(body));
    } catch {
      return { status: 400 };
    }
    if (!parsed.success) return { status: 400 };
    seen.add(id);
    if (seen.size > MAX_SEEN_IDS) seen.delete(seen.values().next().value!);
    deliver(parsed.data);
    return { status: 200 };
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    receive(req).then(
      ({ status, unread }) => {
        // An unread body would keep the connection busy: close it.
        res
          .writeHead(status, {
            ...(unread && { Connection: 'close' }),
            ...(status === 503 && { 'Retry-After': String(RETRY_AFTER_SECONDS) }),
          })
          .end();
      },
      () => res.writeHead(400, { Connection: 'close' }).end(),
    );
  };

  return {
    handler,
    async listen(port, host = '127.0.0.1') {
      // A sender has as long for its headers as for its body (Node's default is 60 s). Node
      // enforces both timeouts only when it checks its connections (by default every 30 s), so
      // it checks every readTimeoutMs: a stalled sender is cut off within twice that.
      const server = createServer(
        {
          headersTimeout: readTimeoutMs,
          requestTimeout: 2 * readTimeoutMs,
          connectionsCheckingInterval: readTimeoutMs,
        },
        handler,
      );
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
        secret = load().then((loaded) => (webhookKey(loaded), loaded));
        // A failed load (or a secret without a key) is tried again by the next run.
        secret.catch(() => (secret = undefined));
      }
      await secret;
    },
  };
}

/**
 * Reads a request's body as UTF-8, stopping as soon as it passes `maxBytes` (413) or takes longer
 * than `timeoutMs` (408, on a connection then closed); a number is that status.
 */
async function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<string | number> {
  const chunks: Buffer[] = [];
  let size = 0;
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    // Ends the loop below: the iterator rejects once the stream is destroyed.
    req.destroy();
  }, timeoutMs);
  try {
    // Not destroyed on return: the 413 still reaches the sender, then the connection closes.
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        req.pause();
        return 413;
      }
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (late) return 408;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

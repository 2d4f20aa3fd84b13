import { createHmac, randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { invalid } from './http.js';
import type { WebhookDelivery, WebhookEvent, WebhookFault } from './types.js';

const EVENTS: readonly WebhookEvent[] = ['start', 'output', 'logs', 'completed'];
/** `output` and `logs` deliveries go out at most this often, in ms, as Replicate throttles them. */
const THROTTLE_MS = 500;
/** Retries of a `completed` delivery the receiver did not answer 2xx, after 0.5 s doubling. */
const RETRIES = 4;
/** Bound on one delivery attempt, in ms. */
const ATTEMPT_TIMEOUT_MS = 10_000;

/**
 * A delivery's `webhook-signature`, as Replicate signs (replicate.com/docs/topics/webhooks/verify-webhook):
 * `v1,` and the base64 HMAC-SHA256 of `${id}.${timestamp}.${body}`, keyed with the base64 part of the
 * secret. Written here again rather than imported from the client, so a mistake in one is not
 * mirrored in the other (tests check both against the official client's `validateWebhook`).
 */
function sign(secret: string, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
    .update(`${id}.${timestamp}.${body}`)
    .digest('base64')}`;
}

/** A new `whsec_<base64>` signing secret. */
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString('base64')}`;

/**
 * The `webhook` and `webhook_events_filter` of a create body, checked: an http(s) URL, and
 * events among `start`, `output`, `logs`, `completed` (default all, as Replicate).
 * @throws {Problem} 422 naming the field.
 */
export function webhookRequest(body: unknown): { url: string; events: ReadonlySet<WebhookEvent> } | undefined {
  const { webhook, webhook_events_filter: filter } = (body ?? {}) as {
    webhook?: unknown;
    webhook_events_filter?: unknown;
  };
  if (webhook === undefined || webhook === null) return undefined;
  if (typeof webhook !== 'string' || !URL.canParse(webhook) || !/^https?:$/.test(new URL(webhook).protocol)) {
    throw invalid([{ field: 'webhook', type: 'format', description: 'webhook must be an http(s) URL' }]);
  }
  if (filter !== undefined && (!Array.isArray(filter) || filter.some((e) => !EVENTS.includes(e as WebhookEvent)))) {
    throw invalid([
      {
        field: 'webhook_events_filter',
        type: 'enum',
        description: `webhook_events_filter takes a list of ${EVENTS.join(', ')}`,
      },
    ]);
  }
  return { url: webhook, events: new Set((filter as WebhookEvent[] | undefined) ?? EVENTS) };
}

/**
 * What the sender follows: an emulated prediction or training, whose answer body each delivery
 * carries (Replicate sends a training's deliveries as the training object).
 */
export interface Followed {
  readonly terminal: boolean;
  /** Resolves when it reaches a terminal status, after `ms`, or when `signal` aborts. */
  settled(ms: number, signal?: AbortSignal): Promise<void>;
  toJSON(): Record<string, unknown>;
}

/**
 * Sends the webhook deliveries of the predictions and trainings created with `webhook`: `start` at creation,
 * `output` and `logs` when they change (at most every 500 ms), `completed` at the end, each
 * signed with {@link secret} (Standard Webhooks headers). A `completed` delivery not answered
 * 2xx is retried 4 times with backoff (0.5 s doubling); the others are superseded by later ones.
 * Tests make deliveries misbehave with {@link inject}.
 */
export class WebhookSender {
  readonly deliveries: WebhookDelivery[] = [];
  private readonly faults: Array<{ fault: WebhookFault; left: number }> = [];
  private readonly stopped = new AbortController();

  constructor(
    readonly secret: string,
    private readonly maxRecorded: number,
  ) {
    // Every followed prediction and pending delivery listens to it.
    setMaxListeners(Infinity, this.stopped.signal);
  }

  inject(fault: WebhookFault): void {
    this.faults.push({ fault, left: fault.times ?? 1 });
  }

  clear(): void {
    this.faults.splice(0);
    this.deliveries.splice(0);
  }

  close(): void {
    this.stopped.abort();
  }

  /** Follows `prediction` (or a training) to its end, sending what `request` asks for. */
  follow(prediction: Followed, { url, events }: { url: string; events: ReadonlySet<WebhookEvent> }): void {
    void (async () => {
      let last = prediction.toJSON();
      if (events.has('start')) void this.send(url, 'start', last);
      while (!prediction.terminal && !this.stopped.signal.aborted) {
        await prediction.settled(THROTTLE_MS, this.stopped.signal);
        if (prediction.terminal || this.stopped.signal.aborted) break;
        const now = prediction.toJSON();
        if (events.has('output') && JSON.stringify(now.output) !== JSON.stringify(last.output))
          void this.send(url, 'output', now);
        else if (events.has('logs') && now.logs !== last.logs) void this.send(url, 'logs', now);
        last = now;
      }
      if (!this.stopped.signal.aborted && events.has('completed'))
        await this.send(url, 'completed', prediction.toJSON());
    })();
  }

  private take(event: WebhookEvent): WebhookFault | undefined {
    const slot = this.faults.find((f) => (f.fault.event ?? 'completed') === event && f.left > 0);
    if (slot) slot.left -= 1;
    return slot?.fault;
  }

  private async send(url: string, event: WebhookEvent, prediction: Record<string, unknown>): Promise<void> {
    const fault = this.take(event);
    const body = JSON.stringify(prediction);
    const id = `msg_${randomBytes(12).toString('hex')}`;
    // A stale delivery is dated 10 minutes back, twice the usual tolerance.
    const timestamp = Math.floor(Date.now() / 1000) - (fault?.action === 'stale' ? 600 : 0);
    const signature = sign(fault?.action === 'forge' ? newWebhookSecret() : this.secret, id, timestamp, body);
    const record: WebhookDelivery = {
      webhookId: id,
      predictionId: String(prediction.id),
      event,
      url,
      attempts: 0,
      fault: fault?.action,
    };
    this.deliveries.push(record);
    if (this.deliveries.length > this.maxRecorded) this.deliveries.shift();
    if (fault?.action === 'drop') return;
    const headers = {
      'Content-Type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signature,
    };
    try {
      if (typeof fault?.action === 'object')
        await sleep(fault.action.delayMs, undefined, { signal: this.stopped.signal });
      for (let attempt = 0; ; attempt++) {
        record.attempts += 1;
        record.status = await fetch(url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([this.stopped.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
        })
          .then(async (response) => {
            await response.arrayBuffer();
            return response.status;
          })
          .catch(() => 'error' as const);
        if (typeof record.status === 'number' && record.status < 300) break;
        if (event !== 'completed' || attempt >= RETRIES || this.stopped.signal.aborted) return;
        await sleep(500 * 2 ** attempt, undefined, { signal: this.stopped.signal });
      }
      // The same delivery again, as when Replicate did not see the first answer.
      if (fault?.action === 'duplicate')
        record.duplicateStatus = await fetch(url, { method: 'POST', headers, body }).then(
          (r) => r.status,
          () => 'error' as const,
        );
    } catch {
      // Stopped: the emulator closed.
    }
  }
}

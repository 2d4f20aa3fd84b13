import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createWebhookReceiver, validateWebhook, type ListeningReceiver, type Prediction } from '../../index.js';
import { signWebhook } from '../../shared/replicate/webhook-signature.js';

const SECRET = `whsec_${Buffer.from('a test secret of 24 bytes').toString('base64')}`;
const receiver = createWebhookReceiver({ secret: SECRET, maxBodyBytes: 64 * 1024 });
let server: ListeningReceiver;
beforeAll(async () => {
  server = await receiver.listen(0);
});
afterAll(() => server.close());

const now = () => Math.floor(Date.now() / 1000);
let ids = 0;
/** A delivery of prediction `predictionId`, signed with `secret` at `timestamp`. */
function delivery(predictionId: string, { secret = SECRET, timestamp = now(), id = `msg_${++ids}`, extra = {} } = {}) {
  const body = JSON.stringify({
    id: predictionId,
    status: 'succeeded',
    output: ['https://example.com/out.webp'],
    ...extra,
  });
  return {
    id,
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(secret, id, timestamp, body),
    },
  };
}
const post = ({ body, headers }: { body: string; headers: Record<string, string> }) =>
  fetch(server.url, { method: 'POST', headers, body }).then((r) => r.status);

/** Subscribes to `predictionId` and returns the deliveries it gets. */
function listen(predictionId: string): Prediction[] {
  const got: Prediction[] = [];
  receiver.subscribe(predictionId, (p) => got.push(p));
  return got;
}

describe('the webhook receiver', () => {
  test('routes a verified delivery to the run waiting for its prediction, and only to it', async () => {
    const mine = listen('pred-a');
    const other = listen('pred-b');
    expect(await post(delivery('pred-a'))).toBe(200);
    expect(mine.map((p) => [p.id, p.status])).toEqual([['pred-a', 'succeeded']]);
    expect(other).toEqual([]);
  });

  test('keeps a delivery that came before anyone waited, and hands it over on subscribe', async () => {
    expect(await post(delivery('pred-early'))).toBe(200);
    expect(listen('pred-early').map((p) => p.id)).toEqual(['pred-early']);
  });

  test('a forged delivery (signed with another secret) gets 401 and has no effect', async () => {
    const got = listen('pred-forged');
    expect(
      await post(delivery('pred-forged', { secret: `whsec_${Buffer.from('another secret').toString('base64')}` })),
    ).toBe(401);
    const tampered = delivery('pred-forged');
    expect(await post({ ...tampered, body: tampered.body.replace('succeeded', 'failed') })).toBe(401);
    expect(await post({ ...tampered, headers: { ...tampered.headers, 'webhook-signature': 'v1,' } })).toBe(401);
    const { 'webhook-signature': _, ...unsigned } = tampered.headers;
    expect(await post({ ...tampered, headers: unsigned })).toBe(401);
    expect(got).toEqual([]);
  });

  test('a stale delivery (correctly signed, 6 minutes old or ahead) gets 401 and has no effect', async () => {
    const got = listen('pred-stale');
    expect(await post(delivery('pred-stale', { timestamp: now() - 360 }))).toBe(401);
    expect(await post(delivery('pred-stale', { timestamp: now() + 360 }))).toBe(401);
    expect(got).toEqual([]);
  });

  test('a replayed delivery (a webhook-id seen before) is acknowledged and ignored', async () => {
    const got = listen('pred-replay');
    const first = delivery('pred-replay', { extra: { status: 'processing' } });
    expect(await post(first)).toBe(200);
    expect(await post(first)).toBe(200);
    expect(got.map((p) => p.status)).toEqual(['processing']);
  });

  test('an oversized delivery gets 413 and has no effect', async () => {
    const got = listen('pred-big');
    expect(await post(delivery('pred-big', { extra: { logs: 'x'.repeat(70 * 1024) } }))).toBe(413);
    expect(got).toEqual([]);
  });

  test('anything but POST gets 405; a verified body that is not a prediction gets 400', async () => {
    expect((await fetch(server.url)).status).toBe(405);
    const id = 'msg_not_a_prediction';
    const body = '{"hello":"world"}';
    const t = now();
    expect(
      await post({
        body,
        headers: {
          'webhook-id': id,
          'webhook-timestamp': String(t),
          'webhook-signature': signWebhook(SECRET, id, t, body),
        },
      }),
    ).toBe(400);
  });

  test('a receiver without a secret refuses every delivery until a client gives it one', async () => {
    const saved = process.env.REPLICATE_WEBHOOK_SECRET;
    delete process.env.REPLICATE_WEBHOOK_SECRET;
    const bare = createWebhookReceiver();
    if (saved !== undefined) process.env.REPLICATE_WEBHOOK_SECRET = saved;
    const own = await bare.listen(0);
    try {
      const d = delivery('pred-x');
      expect(await fetch(own.url, { method: 'POST', headers: d.headers, body: d.body }).then((r) => r.status)).toBe(
        401,
      );
      await bare.useSecret(async () => SECRET);
      const again = delivery('pred-x');
      expect(
        await fetch(own.url, { method: 'POST', headers: again.headers, body: again.body }).then((r) => r.status),
      ).toBe(200);
    } finally {
      await own.close();
    }
  });
});

describe('validateWebhook', () => {
  test('accepts a fetch Request or headers and body signed with the secret, within the tolerance', async () => {
    const d = delivery('pred-v');
    expect(
      await validateWebhook(
        new Request('http://localhost/hook', { method: 'POST', headers: d.headers, body: d.body }),
        SECRET,
      ),
    ).toBe(true);
    expect(await validateWebhook({ headers: d.headers, body: d.body }, SECRET)).toBe(true);
    // Any entry of a space-separated list may match (secret rotation).
    expect(
      await validateWebhook(
        {
          headers: { ...d.headers, 'webhook-signature': `v1,bm9wZQ== ${d.headers['webhook-signature']}` },
          body: d.body,
        },
        SECRET,
      ),
    ).toBe(true);
  });

  test('refuses another secret, a changed body, and a timestamp outside toleranceSeconds', async () => {
    const d = delivery('pred-w', { timestamp: now() - 120 });
    expect(
      await validateWebhook({ headers: d.headers, body: d.body }, `whsec_${Buffer.from('other').toString('base64')}`),
    ).toBe(false);
    expect(await validateWebhook({ headers: d.headers, body: `${d.body} ` }, SECRET)).toBe(false);
    expect(await validateWebhook({ headers: d.headers, body: d.body }, SECRET, { toleranceSeconds: 60 })).toBe(false);
    expect(await validateWebhook({ headers: d.headers, body: d.body }, SECRET, { toleranceSeconds: 180 })).toBe(true);
  });
});

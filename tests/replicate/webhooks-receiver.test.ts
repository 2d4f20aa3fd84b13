import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createWebhookReceiver, validateWebhook, type ListeningReceiver, type Prediction } from '../../index.js';
import { signWebhook, webhookRefusal } from '../../shared/replicate/webhook-signature.js';
import { fixture, until } from '../helpers.js';

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
const post2 = (url: string, { body, headers }: { body: string; headers: Record<string, string> }) =>
  fetch(url, { method: 'POST', headers, body }).then((r) => r.status);
const post = (d: { body: string; headers: Record<string, string> }) => post2(server.url, d);

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

/**
 * Sends a POST's head only (no body) to `url` with `headers` and resolves with the status the
 * receiver answers before any body byte was sent; `socket` stays open until the test ends it.
 */
function headOnly(url: string, headers: Record<string, string>): { status: Promise<number>; socket: Socket } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const lines = Object.entries({ host: `${hostname}:${port}`, ...headers }).map(([name, value]) => `${name}: ${value}`);
  socket.write(`POST / HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
  let answer = '';
  const status = new Promise<number>((resolve, reject) => {
    socket.on('data', (chunk) => {
      answer += String(chunk);
      const match = /^HTTP\/1\.1 (\d{3})/.exec(answer);
      if (match) resolve(Number(match[1]));
    });
    socket.on('error', reject);
  });
  return { status, socket };
}

describe('refusals before the body is read', () => {
  const sockets: Socket[] = [];
  afterAll(() => sockets.forEach((socket) => socket.destroy()));
  const head = (headers: Record<string, string>, url = server.url) => {
    const sent = headOnly(url, headers);
    sockets.push(sent.socket);
    return sent.status;
  };
  const signedHeads = (length: number) => ({
    'content-length': String(length),
    'webhook-id': `msg_${++ids}`,
    'webhook-timestamp': String(now()),
    'webhook-signature': 'v1,bm90IHJlYWQgeWV0',
  });

  test('an unsigned delivery is answered 401 on its headers, its body never sent', async () => {
    expect(await head({ 'content-length': String(60 * 1024) })).toBe(401);
    expect(await head({ 'content-length': String(4 * 1024 * 1024 * 1024) })).toBe(401);
  });

  test('a stale webhook-timestamp is answered 401 on its headers', async () => {
    expect(await head({ ...signedHeads(1000), 'webhook-timestamp': String(now() - 360) })).toBe(401);
  });

  test('a content-length over the limit is answered 413 on its headers', async () => {
    expect(await head(signedHeads(64 * 1024 + 1))).toBe(413);
  });

  test('past maxConcurrentDeliveries bodies being read, a delivery gets 503 with Retry-After, unread', async () => {
    const bounded = createWebhookReceiver({ secret: SECRET, maxConcurrentDeliveries: 2 });
    const own = await bounded.listen(0);
    try {
      // Two deliveries whose bodies never come hold both slots.
      const held = [headOnly(own.url, signedHeads(1000)), headOnly(own.url, signedHeads(1000))];
      sockets.push(...held.map((h) => h.socket));
      // A complete delivery gets 401 (a bad signature) while a slot is free, 503 once both are taken.
      const probe = () => {
        const d = delivery('pred-busy');
        return fetch(own.url, {
          method: 'POST',
          headers: { ...d.headers, 'webhook-signature': 'v1,bm9wZQ==' },
          body: d.body,
        });
      };
      const busy = await until(async () => {
        const response = await probe();
        return response.status === 503 && response;
      });
      expect(busy.headers.get('retry-after')).toBe('5');
      // Once the held ones go, deliveries are read again.
      held.forEach((h) => h.socket.destroy());
      const got: Prediction[] = [];
      bounded.subscribe('pred-after-busy', (p) => got.push(p));
      await until(async () => (await post2(own.url, delivery('pred-after-busy'))) === 200);
      expect(got.map((p) => p.id)).toEqual(['pred-after-busy']);
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

describe('signatures and timestamps as the Standard Webhooks scheme has them', () => {
  const vector = fixture<{ secret: string; id: string; timestamp: string; body: string; signature: string }>(
    'standard-webhooks-vector.json',
  );
  const signedAt = Number(vector.timestamp) * 1000;
  const headersOf = (signature: string, timestamp = vector.timestamp) => {
    const headers = new Headers({
      'webhook-id': vector.id,
      'webhook-timestamp': timestamp,
      'webhook-signature': signature,
    });
    return (name: string) => headers.get(name);
  };

  test("the specification's test vector is accepted, with its secret's whsec_ prefix or without it", () => {
    expect(webhookRefusal(headersOf(vector.signature), vector.body, vector.secret, { now: signedAt })).toBeUndefined();
    const bare = vector.secret.slice('whsec_'.length);
    expect(webhookRefusal(headersOf(vector.signature), vector.body, bare, { now: signedAt })).toBeUndefined();
  });

  test('a valid signature under another version, or a v1 entry without one, is refused', () => {
    const base64 = vector.signature.slice('v1,'.length);
    const refusal = (signature: string) =>
      webhookRefusal(headersOf(signature), vector.body, vector.secret, { now: signedAt });
    expect(refusal(`v2,${base64}`)).toBe('no valid v1 signature');
    expect(refusal(`v1a,${base64}`)).toBe('no valid v1 signature');
    expect(refusal('v1')).toBe('no valid v1 signature');
    expect(refusal(`v1 ${vector.signature}`)).toBeUndefined();
  });

  test('a webhook-timestamp that is not whole seconds is refused, even when signed', () => {
    for (const timestamp of [`${vector.timestamp}.5`, `+${vector.timestamp}`, `${vector.timestamp}e0`, '0x603813f2']) {
      const signature = signWebhook(vector.secret, vector.id, timestamp, vector.body);
      expect(webhookRefusal(headersOf(signature, timestamp), vector.body, vector.secret, { now: signedAt })).toBe(
        'webhook-timestamp outside the tolerance',
      );
    }
  });

  test('a delivery exactly toleranceSeconds old or ahead is accepted, a second more is refused', () => {
    const at = (seconds: number) =>
      webhookRefusal(headersOf(vector.signature), vector.body, vector.secret, { now: signedAt + seconds * 1000 });
    expect(at(300)).toBeUndefined();
    expect(at(-300)).toBeUndefined();
    expect(at(301)).toBe('webhook-timestamp outside the tolerance');
    expect(at(-301)).toBe('webhook-timestamp outside the tolerance');
  });

  test('an empty secret is an error, not a key anyone can sign with', async () => {
    const d = delivery('pred-empty-key', { secret: 'whsec_' + Buffer.from('x').toString('base64') });
    await expect(validateWebhook({ headers: d.headers, body: d.body }, 'whsec_')).rejects.toThrow(
      'webhook secret: no key after whsec_',
    );
  });

  test('a receiver given a secret without a key is refused when created, naming where the secret comes from', () => {
    for (const secret of ['whsec_', 'whsec_===']) {
      expect(() => createWebhookReceiver({ secret })).toThrow(
        'webhook secret: no key after whsec_; use the whole secret from GET /v1/webhooks/default/secret',
      );
    }
    const before = process.env.REPLICATE_WEBHOOK_SECRET;
    process.env.REPLICATE_WEBHOOK_SECRET = 'whsec_';
    try {
      expect(() => createWebhookReceiver()).toThrow('webhook secret: no key after whsec_');
    } finally {
      if (before === undefined) delete process.env.REPLICATE_WEBHOOK_SECRET;
      else process.env.REPLICATE_WEBHOOK_SECRET = before;
    }
  });

  test("validateWebhook reads Node's headers object, where a repeated header is an array", async () => {
    const d = delivery('pred-node-headers');
    const headers = { ...d.headers, 'webhook-signature': ['v1,bm9wZQ==', d.headers['webhook-signature']] };
    expect(await validateWebhook({ headers, body: d.body }, SECRET)).toBe(true);
  });
});

describe('a slow or refused sender', () => {
  test('a body that stops arriving is cut off after readTimeoutMs, its connection closed and its slot freed', async () => {
    const bounded = createWebhookReceiver({ secret: SECRET, maxConcurrentDeliveries: 1, readTimeoutMs: 300 });
    const own = await bounded.listen(0);
    try {
      const { hostname, port } = new URL(own.url);
      const socket = connect(Number(port), hostname);
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.on('error', () => {});
      const d = delivery('pred-stalled');
      const lines = Object.entries({ ...d.headers, 'content-length': '1000' }).map(([k, v]) => `${k}: ${v}`);
      socket.write(`POST / HTTP/1.1\r\nhost: ${hostname}\r\n${lines.join('\r\n')}\r\n\r\n{"id":`);
      await closed;
      const got: Prediction[] = [];
      bounded.subscribe('pred-after-stall', (p) => got.push(p));
      expect(await post2(own.url, delivery('pred-after-stall'))).toBe(200);
      expect(got.map((p) => p.id)).toEqual(['pred-after-stall']);
    } finally {
      await own.close();
    }
  });

  test('an answer given before the body is read closes the connection', async () => {
    const response = await fetch(server.url, { method: 'POST', body: 'unsigned' });
    expect(response.status).toBe(401);
    expect(response.headers.get('connection')).toBe('close');
    const signed = await fetch(server.url, { method: 'POST', ...delivery('pred-keep-alive') });
    expect(signed.status).toBe(200);
    expect(signed.headers.get('connection')).not.toBe('close');
  });

  test('listening on an IPv6 address gives a URL with the address in brackets, that answers', async () => {
    const own = await receiver.listen(0, '::1');
    try {
      expect(own.url).toMatch(/^http:\/\/\[::1\]:\d+\/$/);
      expect((await fetch(own.url)).status).toBe(405);
    } finally {
      await own.close();
    }
  });
});

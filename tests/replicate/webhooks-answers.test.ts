import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createWebhookReceiver, type ListeningReceiver, type Prediction } from '../../index.js';
import { chunked, delivery, now, rawRequest, SECRET, signed, type RawExchange } from './webhook-deliveries.js';
import { own, scaled, until } from '../helpers.js';

// The answers a receiver gives, as the sender sees them on the wire; issue 30's survivors.
const MAX_BODY = 2048;
// Long enough for any body below to arrive; a sender left waiting fails on it rather than on jest's timeout.
const receiver = createWebhookReceiver({ secret: SECRET, maxBodyBytes: MAX_BODY, readTimeoutMs: scaled(5_000) });
let server: ListeningReceiver;
beforeAll(async () => {
  server = await own(receiver.listen(0), (s) => s.close());
});

const exchanges: RawExchange[] = [];
afterAll(() => exchanges.forEach((e) => e.socket.destroy()));
const raw = (method: string, headers: Record<string, string>, url = server.url) => {
  const exchange = rawRequest(url, method, headers);
  exchanges.push(exchange);
  return exchange;
};
const post = (url: string, d: { body: string; headers: Record<string, string> }) =>
  fetch(url, { method: 'POST', headers: d.headers, body: d.body });

/** Subscribes to `predictionId` and returns the deliveries it gets. */
function listen(predictionId: string): Prediction[] {
  const got: Prediction[] = [];
  receiver.subscribe(predictionId, (p) => got.push(p));
  return got;
}

describe('refusals on the headers, the body left unread and the connection closed', () => {
  test('a delivery without webhook-id is answered 401 before its body is sent', async () => {
    const { 'webhook-id': _, ...headers } = delivery('pred-no-id').headers;
    const { answer } = raw('POST', { ...headers, 'content-length': '500' });
    const { status, headers: fields } = await answer;
    expect(status).toBe(401);
    expect(fields.get('connection')).toBe('close');
  });

  test('a content-length of maxBodyBytes is read and delivered; one byte more gets 413 before the body is sent', async () => {
    const got = listen('pred-at-limit');
    const atLimit = delivery('pred-at-limit', { bytes: MAX_BODY });
    expect(Buffer.byteLength(atLimit.body)).toBe(MAX_BODY);
    expect((await post(server.url, atLimit)).status).toBe(200);
    expect(got.map((p) => p.id)).toEqual(['pred-at-limit']);

    const over = delivery('pred-over-limit', { bytes: MAX_BODY + 1 });
    const { answer } = raw('POST', { ...over.headers, 'content-length': String(MAX_BODY + 1) });
    const { status, headers } = await answer;
    expect(status).toBe(413);
    expect(headers.get('connection')).toBe('close');
  });

  test('anything but POST gets 405 and its body is not read', async () => {
    const { answer } = raw('PUT', { ...delivery('pred-put').headers, 'content-length': '500' });
    const { status, headers } = await answer;
    expect(status).toBe(405);
    expect(headers.get('connection')).toBe('close');
  });

  test('a receiver without a secret yet answers 401 before reading the body', async () => {
    const saved = process.env.REPLICATE_WEBHOOK_SECRET;
    delete process.env.REPLICATE_WEBHOOK_SECRET;
    const bare = createWebhookReceiver();
    if (saved !== undefined) process.env.REPLICATE_WEBHOOK_SECRET = saved;
    const own2 = await own(bare.listen(0), (s) => s.close());
    const { answer } = raw('POST', { ...delivery('pred-no-secret').headers, 'content-length': '500' }, own2.url);
    const { status, headers } = await answer;
    expect(status).toBe(401);
    expect(headers.get('connection')).toBe('close');
  });

  test('the 503 past maxConcurrentDeliveries closes the connection; no other answer asks to retry later', async () => {
    const bounded = createWebhookReceiver({ secret: SECRET, maxConcurrentDeliveries: 1 });
    const own2 = await own(bounded.listen(0), (s) => s.close());
    const held = raw('POST', { ...delivery('pred-held').headers, 'content-length': '500' }, own2.url);
    // The held delivery takes the only slot once its headers pass (its body never comes); until
    // then a complete delivery with a bad signature gets 401, then 503.
    const busy = await until(async () => {
      const d = delivery('pred-busy');
      const response = await post(own2.url, { ...d, headers: { ...d.headers, 'webhook-signature': 'v1,bm9wZQ==' } });
      return response.status === 503 && response;
    });
    expect(busy.headers.get('connection')).toBe('close');
    expect(busy.headers.get('retry-after')).toBe('5');
    held.socket.destroy();

    const accepted = await post(server.url, delivery('pred-no-retry'));
    expect(accepted.status).toBe(200);
    expect(accepted.headers.get('retry-after')).toBeNull();
    const forged = await post(server.url, delivery('pred-no-retry', { secret: `whsec_${btoa('another')}` }));
    expect(forged.status).toBe(401);
    expect(forged.headers.get('retry-after')).toBeNull();
  });
});

describe('bodies read to their end', () => {
  test('a chunked body gets 413 as soon as it passes maxBodyBytes, while the sender is still sending, and has no effect', async () => {
    const got = listen('pred-chunked-over');
    const over = delivery('pred-chunked-over', { bytes: 2 * MAX_BODY });
    const exchange = raw('POST', { ...over.headers, 'transfer-encoding': 'chunked' });
    // The first MAX_BODY + 1 bytes, and no more: the rest of the body is still to come.
    const sent = chunked(over.body.slice(0, MAX_BODY + 1), 512);
    exchange.write(sent.slice(0, -'0\r\n\r\n'.length));
    const { status, headers } = await exchange.answer;
    expect(status).toBe(413);
    expect(headers.get('connection')).toBe('close');
    await exchange.closed;
    expect(got).toEqual([]);
  });

  test('a chunked body of exactly maxBodyBytes is delivered', async () => {
    const got = listen('pred-chunked-at-limit');
    const atLimit = delivery('pred-chunked-at-limit', { bytes: MAX_BODY });
    const exchange = raw('POST', { ...atLimit.headers, 'transfer-encoding': 'chunked' });
    exchange.write(chunked(atLimit.body, 512));
    expect((await exchange.answer).status).toBe(200);
    expect(got.map((p) => p.id)).toEqual(['pred-chunked-at-limit']);
  });

  test('a verified body that is not JSON, or not a prediction, gets 400 on a connection kept open', async () => {
    for (const body of ['{"id":', '{"hello":"world"}']) {
      const response = await post(server.url, signed(body));
      expect(response.status).toBe(400);
      expect(response.headers.get('connection')).not.toBe('close');
    }
  });

  test('a loaded secret without a key fails the run that loaded it; the next run loads again', async () => {
    const receiver = createWebhookReceiver();
    const own2 = await own(receiver.listen(0), (s) => s.close());
    await expect(receiver.useSecret(async () => 'whsec_')).rejects.toThrow(
      'webhook secret: no key after whsec_; use the whole secret from GET /v1/webhooks/default/secret',
    );
    expect((await post(own2.url, delivery('pred-keyless'))).status).toBe(401);
    await receiver.useSecret(async () => SECRET);
    expect((await post(own2.url, delivery('pred-keyless'))).status).toBe(200);
  });

  test('toleranceSeconds applies to the headers and the signature: 600 accepts a delivery 400 s old, not 700 s', async () => {
    const lenient = createWebhookReceiver({ secret: SECRET, toleranceSeconds: 600 });
    const own2 = await own(lenient.listen(0), (s) => s.close());
    const got: Prediction[] = [];
    lenient.subscribe('pred-old', (p) => got.push(p));
    expect((await post(own2.url, delivery('pred-old', { timestamp: now() - 700 }))).status).toBe(401);
    expect((await post(own2.url, delivery('pred-old', { timestamp: now() - 400 }))).status).toBe(200);
    expect(got.map((p) => p.id)).toEqual(['pred-old']);
  });
});

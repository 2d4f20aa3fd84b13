import { createServer } from 'node:http';
import { describe, expect, test } from '@jest/globals';
import { createWebhookReceiver } from '../../index.js';
import { delivery, rawRequest, SECRET } from './webhook-deliveries.js';
import { own, scaled } from '../helpers.js';

// The receiver's own server (`listen`): its port, its errors, its deadline for headers.
describe("the receiver's server", () => {
  test('close frees its port: the receiver listens on it again', async () => {
    const receiver = createWebhookReceiver({ secret: SECRET });
    const first = await receiver.listen(0);
    const { port } = new URL(first.url);
    await first.close();
    const again = await own(receiver.listen(Number(port)), (s) => s.close());
    expect(again.url).toBe(first.url);
    const { body, headers } = delivery('pred-again');
    expect((await fetch(again.url, { method: 'POST', headers, body })).status).toBe(200);
  });

  test('a port in use is a listen error (EADDRINUSE), not a crash', async () => {
    const taken = createServer();
    await own(
      new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve)),
      () => new Promise((resolve) => taken.close(resolve)),
    );
    const { port } = taken.address() as { port: number };
    await expect(createWebhookReceiver({ secret: SECRET }).listen(port)).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  test('a sender whose headers stop arriving gets 408 once readTimeoutMs has passed, and its connection is closed', async () => {
    const receiver = createWebhookReceiver({ secret: SECRET, readTimeoutMs: scaled(300) });
    const server = await own(receiver.listen(0), (s) => s.close());
    const { 'webhook-signature': _, ...headers } = delivery('pred-slow-headers').headers;
    // The head's blank line never comes: the headers are not complete.
    const stalled = rawRequest(server.url, 'POST', headers, false);
    const started = Date.now();
    expect((await stalled.answer).status).toBe(408);
    await stalled.closed;
    // Within twice readTimeoutMs, as the server checks every readTimeoutMs; Node's own check comes every 30 s.
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(scaled(300) - 50);
    expect(elapsed).toBeLessThan(scaled(10_000));
  });
});

describe('what a receiver leaves behind', () => {
  const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

  test('once its deliveries are answered and it is closed, nothing of it keeps the process alive (a CLI exits at once)', async () => {
    // A deadline far longer than the test: a timer of it left running would hold the process that long.
    const receiver = createWebhookReceiver({ secret: SECRET, readTimeoutMs: 600_000 });
    const before = timers();
    const server = await receiver.listen(0);
    const { body, headers } = delivery('pred-leaves-nothing');
    const exchange = rawRequest(server.url, 'POST', {
      ...headers,
      'content-length': String(Buffer.byteLength(body)),
      connection: 'close',
    });
    exchange.write(body);
    expect((await exchange.answer).status).toBe(200);
    await exchange.closed;
    await server.close();
    expect(timers()).toBe(before);
  });
});

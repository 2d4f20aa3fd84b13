import { connect } from 'node:net';
import { describe, expect, test } from '@jest/globals';
import { createWebhookReceiver, type WebhookReceiver } from '../../index.js';
import { delivery, SECRET } from './webhook-deliveries.js';
import { own } from '../helpers.js';

/**
 * Sends a delivery of each of `predictionIds`, in that order, pipelined on one connection to `url`
 * (thousands take a second or two); resolves with the answers' statuses, in the same order.
 */
function pipelined(url: string, predictionIds: readonly string[]): Promise<number[]> {
  const { hostname, port } = new URL(url);
  const requests = predictionIds.map((id) => {
    const { body, headers } = delivery(id);
    const fields = Object.entries({ ...headers, host: `${hostname}:${port}`, 'content-length': String(body.length) });
    return `POST / HTTP/1.1\r\n${fields.map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n${body}`;
  });
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const statuses: number[] = [];
    let rest = '';
    socket.on('data', (chunk) => {
      rest += String(chunk);
      const statusLine = /HTTP\/1\.1 (\d{3})/g;
      let end = 0;
      for (let match; (match = statusLine.exec(rest)); end = statusLine.lastIndex) statuses.push(Number(match[1]));
      rest = rest.slice(end);
      if (statuses.length === predictionIds.length) {
        socket.destroy();
        resolve(statuses);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`connection closed after ${statuses.length} answers`)));
    socket.write(requests.join(''));
  });
}

/** The ids of `predictionIds` whose delivery `receiver` kept for a run that subscribes now. */
function kept(receiver: WebhookReceiver, predictionIds: readonly string[]): string[] {
  const got: string[] = [];
  for (const id of predictionIds) receiver.subscribe(id, (p) => got.push(p.id))();
  return got;
}

describe('what a receiver remembers is bounded', () => {
  test('it keeps the latest delivery of up to 10,000 predictions nobody waits for yet, dropping the oldest past that', async () => {
    const receiver = createWebhookReceiver({ secret: SECRET });
    const server = await own(receiver.listen(0), (s) => s.close());
    const ids = Array.from({ length: 10_002 }, (_, i) => `pred-unclaimed-${i}`);
    // 10,000: every one is kept.
    expect(new Set(await pipelined(server.url, ids.slice(0, 10_000)))).toEqual(new Set([200]));
    expect(kept(receiver, ids.slice(0, 1))).toEqual(ids.slice(0, 1));
    // Now 9,999 wait; two more make 10,001, and the oldest of them goes.
    expect(new Set(await pipelined(server.url, ids.slice(10_000)))).toEqual(new Set([200]));
    expect(kept(receiver, ids.slice(1))).toEqual(ids.slice(2));
  });
});

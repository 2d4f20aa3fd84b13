import { beforeAll, describe, expect, test } from '@jest/globals';
import { createWebhookReceiver, type ListeningReceiver, type Prediction } from '../../index.js';
import { delivery, SECRET } from './webhook-deliveries.js';
import { own } from '../helpers.js';

// Who gets a verified delivery's prediction: the runs waiting for it, or the next one to wait.
const receiver = createWebhookReceiver({ secret: SECRET });
let server: ListeningReceiver;
beforeAll(async () => {
  server = await own(receiver.listen(0), (s) => s.close());
});

const deliver = async (predictionId: string) => {
  const { body, headers } = delivery(predictionId);
  expect((await fetch(server.url, { method: 'POST', headers, body })).status).toBe(200);
};
/** Subscribes to `predictionId`; returns what it gets and its unsubscribe. */
function listen(predictionId: string): { got: string[]; stop: () => void } {
  const got: string[] = [];
  const stop = receiver.subscribe(predictionId, (p: Prediction) => got.push(p.id));
  return { got, stop };
}

describe('subscribers', () => {
  test('two runs waiting for the same prediction both get its delivery; when one stops, the other still gets them', async () => {
    const first = listen('pred-shared');
    const second = listen('pred-shared');
    await deliver('pred-shared');
    expect([first.got, second.got]).toEqual([['pred-shared'], ['pred-shared']]);
    first.stop();
    await deliver('pred-shared');
    expect([first.got, second.got]).toEqual([['pred-shared'], ['pred-shared', 'pred-shared']]);
    second.stop();
  });

  test('a delivery that comes after the only waiting run stopped is kept for the next one, not lost', async () => {
    const gone = listen('pred-rewaited');
    gone.stop();
    await deliver('pred-rewaited');
    expect(gone.got).toEqual([]);
    expect(listen('pred-rewaited').got).toEqual(['pred-rewaited']);
  });
});

import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { validateWebhook as officialValidate } from 'replicate';
import { validateWebhook } from '../../index.js';
import { TOKEN, useEmulator } from '../helpers.js';

const local = useEmulator({ startingMs: 50, processingMs: 1_200 });

interface Received {
  readonly at: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}
/** A receiver that records each delivery and answers `answers.shift() ?? 200`. */
let received: Received[] = [];
let answers: number[] = [];
let server: Server;
let hook = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        at: Date.now(),
        headers: req.headers as Record<string, string>,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(answers.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hook = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  received = [];
  answers = [];
});

const create = (body: Record<string, unknown>) =>
  fetch(`${local.emulator.url}/models/black-forest-labs/flux-schnell/predictions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ input: { prompt: 'a kingfisher', seed: 5 }, ...body }),
  });
const until = async (check: () => boolean, ms = 8_000) => {
  for (const end = Date.now() + ms; !check() && Date.now() < end;)
    await new Promise((resolve) => setTimeout(resolve, 20));
};
const event = (r: Received) =>
  JSON.parse(r.body) as { id: string; status: string; logs: string; completed_at?: string };
/** The official client's check of a delivery. */
const official = ({ headers, body }: Received) =>
  officialValidate({
    id: headers['webhook-id']!,
    timestamp: headers['webhook-timestamp']!,
    signature: headers['webhook-signature']!,
    body,
    secret: local.emulator.webhooks.secret,
  });
const completed = () => received.filter((r) => event(r).completed_at !== undefined);

describe("the emulator's webhooks", () => {
  test('GET /v1/webhooks/default/secret answers the signing secret, to a caller with a token', async () => {
    const answer = await fetch(`${local.emulator.url}/webhooks/default/secret`, {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(await answer.json()).toEqual({ key: local.emulator.webhooks.secret });
    expect(local.emulator.webhooks.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect((await fetch(`${local.emulator.url}/webhooks/default/secret`)).status).toBe(401);
  });

  test('sends start, logs at most every 500 ms, and completed, each signed so the official client and ours accept it', async () => {
    const { id } = (await (await create({ webhook: hook })).json()) as { id: string };
    await until(() => completed().length > 0);
    expect(received.every((r) => event(r).id === id)).toBe(true);
    expect(event(received[0]!).status).toBe('starting');
    expect(event(received.at(-1)!).status).toBe('succeeded');
    const middle = received.slice(1, -1);
    expect(middle.length).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < middle.length; i++) expect(middle[i]!.at - middle[i - 1]!.at).toBeGreaterThanOrEqual(450);
    for (const r of received) {
      expect(r.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(await official(r)).toBe(true);
      expect(await validateWebhook({ headers: r.headers, body: r.body }, local.emulator.webhooks.secret)).toBe(true);
    }
    expect(local.emulator.webhooks.deliveries.map((d) => d.event)).toEqual([
      'start',
      ...middle.map(() => 'logs'),
      'completed',
    ]);
  });

  test('honours webhook_events_filter', async () => {
    await create({ webhook: hook, webhook_events_filter: ['completed'] });
    await until(() => completed().length > 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received.map((r) => event(r).status)).toEqual(['succeeded']);
  });

  test('refuses a webhook that is not an http(s) URL, and unknown events, naming the field (422)', async () => {
    const bad = await create({ webhook: 'not a url' });
    expect(bad.status).toBe(422);
    expect(await bad.json()).toMatchObject({ invalid_fields: [{ field: 'webhook' }] });
    const filter = await create({ webhook: hook, webhook_events_filter: ['finished'] });
    expect(filter.status).toBe(422);
    expect(await filter.json()).toMatchObject({ invalid_fields: [{ field: 'webhook_events_filter' }] });
  });

  test('retries a completed delivery with backoff while the receiver answers non-2xx', async () => {
    await create({ webhook: hook, webhook_events_filter: ['completed'] });
    answers = [500, 503];
    await until(() => received.length >= 3);
    expect(received.map((r) => r.headers['webhook-id'])).toEqual(Array(3).fill(received[0]!.headers['webhook-id']));
    expect(received[1]!.at - received[0]!.at).toBeGreaterThanOrEqual(450);
    expect(received[2]!.at - received[1]!.at).toBeGreaterThanOrEqual(950);
    await until(() => local.emulator.webhooks.deliveries[0]?.status === 200);
    expect(local.emulator.webhooks.deliveries.map((d) => [d.attempts, d.status])).toEqual([[3, 200]]);
  });

  test('faults: a delayed delivery comes later; stale and forged ones fail verification', async () => {
    local.emulator.webhooks.inject({ action: { delayMs: 700 } });
    local.emulator.webhooks.inject({ action: 'stale' });
    local.emulator.webhooks.inject({ action: 'forge' });
    const started = Date.now();
    await Promise.all(
      [1, 2, 3].map((seed) =>
        create({ webhook: hook, webhook_events_filter: ['completed'], input: { prompt: 'a kingfisher', seed } }),
      ),
    );
    await until(() => received.length >= 3);
    const faultOf = (r: Received) =>
      local.emulator.webhooks.deliveries.find((d) => d.webhookId === r.headers['webhook-id'])!.fault;
    const delayed = received.find((r) => typeof faultOf(r) === 'object')!;
    expect(delayed.at - started).toBeGreaterThanOrEqual(50 + 1_200 + 700);
    expect(await official(delayed)).toBe(true);
    const stale = received.find((r) => faultOf(r) === 'stale')!;
    expect(Date.now() / 1000 - Number(stale.headers['webhook-timestamp'])).toBeGreaterThan(590);
    // The official helper does not check timestamps; ours does.
    expect(await official(stale)).toBe(true);
    expect(await validateWebhook({ headers: stale.headers, body: stale.body }, local.emulator.webhooks.secret)).toBe(
      false,
    );
    const forged = received.find((r) => faultOf(r) === 'forge')!;
    expect(await official(forged)).toBe(false);
  });
});

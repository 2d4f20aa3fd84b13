import { expect, test } from '@jest/globals';
import { replicateClient } from '../../shared/framework/replicate-client.js';
import { createWebhookReceiver } from '../../index.js';
import type { Pacer } from '../../shared/replicate/pacer.js';
import { TOKEN } from '../helpers.js';

// Hosts build a context per run; the client behind equal contexts is built once.
const context = (runner: object = {}, apiKey = TOKEN) => ({
  credentials: { apiKey },
  runner: { baseUrl: 'http://127.0.0.1:9/v1', ...runner },
});

test('runs with the same token and options share one client; any difference gets its own', () => {
  const shared = replicateClient(context({ timeoutMs: 5_000 }));
  expect(replicateClient(context({ timeoutMs: 5_000, onProgress: () => {} }))).toBe(shared);
  expect(replicateClient(context({ timeoutMs: 6_000 }))).not.toBe(shared);
  expect(replicateClient(context({ timeoutMs: 5_000 }, `${TOKEN}x`))).not.toBe(shared);
  expect(replicateClient(context({ timeoutMs: 5_000, baseUrl: 'http://127.0.0.1:10/v1' }))).not.toBe(shared);
});

test('objects among the options (pacer, webhook receiver) are told apart by identity', () => {
  const pacer: Pacer = { turn: async () => {}, throttled: () => {} };
  const receiver = createWebhookReceiver({ secret: 'whsec_dGVzdA==' });
  const webhook = { url: 'https://hooks.example.com/replicate', receiver };
  const withPacer = replicateClient(context({ pacer }));
  expect(replicateClient(context({ pacer }))).toBe(withPacer);
  expect(replicateClient(context({ pacer: { ...pacer } }))).not.toBe(withPacer);
  const withWebhook = replicateClient(context({ webhook }));
  expect(replicateClient(context({ webhook: { ...webhook } }))).toBe(withWebhook);
  expect(
    replicateClient(
      context({ webhook: { ...webhook, receiver: createWebhookReceiver({ secret: 'whsec_dGVzdA==' }) } }),
    ),
  ).not.toBe(withWebhook);
});

test('only the 64 most recently used clients are kept', () => {
  const first = replicateClient(context({ pollIntervalMs: 1 }));
  const kept = replicateClient(context({ pollIntervalMs: 2 }));
  for (let ms = 3; ms <= 65; ms++) {
    replicateClient(context({ pollIntervalMs: ms }));
    replicateClient(context({ pollIntervalMs: 2 })); // used again: stays
  }
  expect(replicateClient(context({ pollIntervalMs: 2 }))).toBe(kept);
  expect(replicateClient(context({ pollIntervalMs: 1 }))).not.toBe(first);
});

test('bad options are refused every time, not cached', () => {
  for (let i = 0; i < 2; i++) {
    expect(() => replicateClient(context({ waitSeconds: 61 }))).toThrow(
      'Invalid runner options: waitSeconds: must be <= 60',
    );
  }
});

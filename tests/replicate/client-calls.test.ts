import { getEventListeners } from 'node:events';
import { describe, expect, test } from '@jest/globals';
import type { ReplicateClient } from '../../shared/replicate/client.js';
import type { Lane } from '../../shared/replicate/rate-gate.js';
import type { Route } from '../../emulator/types.js';
import { abortWhen, clientFor, freshToken, scaled, useEmulator } from '../helpers.js';

// The client's calls besides run: uploadFile, getModel, cancel and request, and what every call
// does with its signals (bounded in client.ts).
const local = useEmulator();

const request = { model: 'black-forest-labs/flux-schnell', input: { prompt: 'a heron at dawn', seed: 5 } };
// Time allowed after an abort for the call to reject, on a busy machine: far under the 30 s
// Retry-After the call would otherwise wait out.
const MARGIN_MS = scaled(5_000);

/** Each call, the emulator route it sends, and how to make it with an optional signal. */
const CALLS: Array<[string, Route, (client: ReplicateClient, signal?: AbortSignal) => Promise<unknown>]> = [
  ['uploadFile', 'upload', (c, signal) => c.uploadFile(new Blob(['x']), 'x.bin', { signal })],
  ['getModel', 'model', (c, signal) => c.getModel('black-forest-labs/flux-schnell', { signal })],
  ['cancel', 'cancel', (c, signal) => c.cancel('nosuchprediction', { signal })],
  ['request', 'account', (c, signal) => c.request('account', { signal })],
];

describe('uploadFile', () => {
  test('a file goes up under the name given, as given, and as application/octet-stream when its Blob has no type', async () => {
    // Multipart escapes a quote in filename= as %22, and parsers (WHATWG, undici) read %22 back as a quote:
    // the name also goes up in the `filename` field, which carries it as given.
    const file = await clientFor(local.emulator).uploadFile(new Blob(['bytes']), '100%22 sure.bin');
    expect(file).toMatchObject({ name: '100%22 sure.bin', content_type: 'application/octet-stream', size: 5 });
  });
});

describe('answers of the wrong shape', () => {
  test.each([
    [
      'uploadFile',
      'upload' as const,
      (c: ReplicateClient) => c.uploadFile(new Blob(['x']), 'x.bin'),
      'answered POST /files with JSON that is not a file (body: must be an object, got array)',
    ],
    [
      'getModel',
      'model' as const,
      (c: ReplicateClient) => c.getModel('black-forest-labs/flux-schnell'),
      'answered GET /models/black-forest-labs/flux-schnell with JSON that is not a model (body: must be an object, got array)',
    ],
  ])(
    '%s: a 2xx answer that is not what was asked is a bad_response naming the request',
    async (_, route, call, what) => {
      local.emulator.inject({ route, answer: { status: 201, body: ['not', 'it'] } });
      await expect(call(clientFor(local.emulator))).rejects.toMatchObject({
        kind: 'bad_response',
        detail: `The Replicate API at ${local.emulator.url} ${what}`,
      });
    },
  );
});

describe('request', () => {
  test('a JSON body goes as application/json, text as text/plain, and a GET carries neither body nor content type', async () => {
    const client = clientFor(local.emulator);
    const model = { owner: 'someone', name: `calls-${process.pid}`, visibility: 'private', hardware: 'cpu' };
    await expect(client.request('models', { method: 'POST', json: model })).resolves.toMatchObject({
      name: model.name,
    });
    await client.request('models', { method: 'QUERY', text: 'flux' });
    await expect(client.request('account')).resolves.toMatchObject({ type: 'user' });
    const sent = local.emulator.requests.map((r) => [r.method, r.path, r.headers['content-type'], r.body]);
    expect(sent).toEqual([
      ['POST', '/v1/models', 'application/json', model],
      ['QUERY', '/v1/models', 'text/plain', undefined],
      ['GET', '/v1/account', undefined, undefined],
    ]);
  });
});

describe('every call', () => {
  test.each(CALLS)(
    '%s: a 429 whose Retry-After ends past the timeout fails at once as rate_limited, naming the timeout',
    async (_, route, call) => {
      local.emulator.inject({ route, answer: { status: 429, retryAfter: '60' } });
      const client = clientFor(local.emulator, { token: freshToken(), timeoutMs: scaled(2_000) });
      // rate_limited, not timed_out: it failed at once, before its timeout.
      await expect(call(client)).rejects.toMatchObject({
        kind: 'rate_limited',
        detail: expect.stringMatching(
          new RegExp(
            `^Replicate is rate limiting this API token: the next request could go out in (59|60) s, after the run's timeout of ${scaled(2_000)} ms$`,
          ),
        ),
      });
      expect(local.emulator.requests).toHaveLength(1);
    },
  );

  test.each(CALLS)('%s: an abort while it waits out a 429 Retry-After rejects at once', async (_, route, call) => {
    local.emulator.inject({ route, answer: { status: 429, retryAfter: '30' } });
    // The pacer is asked for a turn just before the token's gate: the second ask is the retry, which then waits at the gate.
    const turns: Lane[] = [];
    const pacer = { turn: async (lane: Lane) => void turns.push(lane), throttled: () => undefined };
    const client = clientFor(local.emulator, { token: freshToken(), pacer });
    const abort = abortWhen(() => turns.length >= 2);
    await expect(call(client, abort.signal)).rejects.toMatchObject({ kind: 'host_aborted' });
    expect(Date.now() - abort.abortedAt()!).toBeLessThan(MARGIN_MS);
    expect(local.emulator.requests).toHaveLength(1);
  });

  test('a run already detached sends nothing', async () => {
    await expect(clientFor(local.emulator).run(request, { detach: AbortSignal.abort() })).rejects.toMatchObject({
      kind: 'host_aborted',
      detail: 'The run was detached by the host before it started',
    });
    expect(local.emulator.requests).toHaveLength(0);
  });

  test("long-lived signals keep no listener of a finished call (a worker's one shutdown signal serves every job)", async () => {
    const signal = new AbortController().signal;
    const detach = new AbortController().signal;
    const client = clientFor(local.emulator);
    await client.run(request, { signal, detach });
    await client.getModel('black-forest-labs/flux-schnell', { signal });
    await expect(client.cancel('nosuchprediction', { signal })).rejects.toMatchObject({ kind: 'not_found' });
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(detach, 'abort')).toHaveLength(0);
  });
});

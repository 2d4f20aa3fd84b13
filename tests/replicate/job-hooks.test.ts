import { describe, expect, test } from '@jest/globals';
import type { Lane } from '../../shared/replicate/rate-gate.js';
import { clientFor, creates, freshToken, remote, requestsTo, useEmulator } from '../helpers.js';

const local = useEmulator();

const request = { model: 'black-forest-labs/flux-schnell', input: { prompt: 'a kite over dunes', seed: 11 } };
const polls = () => requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/);

describe('hooks a job runner records and resumes predictions with', () => {
  test('beforeCreate runs before the create and onCreated gets the prediction before the first poll', async () => {
    local.plan = { processingMs: 300 };
    const seen: string[] = [];
    const done = await clientFor(local.emulator, { waitSeconds: 1 }).run(request, {
      beforeCreate: (r) => void seen.push(`before ${r.model} ${creates(local.emulator).sent}`),
      onCreated: (p) => void seen.push(`created ${p.id} polls ${polls().length}`),
    });
    expect(seen).toEqual([`before ${request.model} 0`, `created ${done.id} polls 0`]);
    expect(done.status).toBe('succeeded');
  });

  test('beforeCreate returning an id waits for that prediction and creates none', async () => {
    local.plan = { processingMs: 300 };
    const client = clientFor(local.emulator, { waitSeconds: 1 });
    const first = await client.run(request, { detach: AbortSignal.timeout(50) }).catch((e: Error) => e.message);
    expect(first).toMatch(/stopped waiting/);
    const [created] = await client.findPredictions(request, new Date(Date.now() - 60_000).toISOString());
    local.emulator.requests.splice(0);
    let createdCalls = 0;
    const resumed = await client.run(request, {
      beforeCreate: () => created!.id,
      onCreated: () => void (createdCalls += 1),
    });
    expect(resumed).toMatchObject({ id: created!.id, status: 'succeeded' });
    expect(creates(local.emulator).sent).toBe(0);
    expect(createdCalls).toBe(0);
  });

  test('a rejecting beforeCreate stops the run before anything is sent', async () => {
    const failed = await clientFor(local.emulator)
      .run(request, { beforeCreate: () => Promise.reject(new Error('no turn')) })
      .catch((e: Error) => e);
    expect(String(failed)).toMatch(/no turn/);
    expect(local.emulator.requests).toHaveLength(0);
  });
});

describe('wait, findPredictions and detach', () => {
  test('detach stops waiting without canceling; wait(id) then sees the prediction to its end', async () => {
    local.plan = { processingMs: 1_500 };
    const client = clientFor(local.emulator, { waitSeconds: 1 });
    let id = '';
    const stop = new AbortController();
    const detached = client.run(request, { detach: stop.signal, onCreated: (p) => void ((id = p.id), stop.abort()) });
    await expect(detached).rejects.toMatchObject({
      kind: 'host_aborted',
      message: expect.stringMatching(/left running/),
    });
    expect(requestsTo(local.emulator, 'POST', /\/cancel$/)).toHaveLength(0);
    expect((await remote(local.emulator, id)).status).not.toBe('canceled');
    const done = await client.wait(id);
    expect(done).toMatchObject({ id, status: 'succeeded' });
    expect(creates(local.emulator).sent).toBe(1);
  });

  test('wait(id) of a prediction that failed rejects as run does, and an abort cancels it', async () => {
    local.plan = { processingMs: 5_000 };
    const client = clientFor(local.emulator, { waitSeconds: 1 });
    const stop = new AbortController();
    let id = '';
    await client
      .run(request, { detach: stop.signal, onCreated: (p) => void ((id = p.id), stop.abort()) })
      .catch(() => undefined);
    await expect(client.wait(id, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ kind: 'host_aborted' });
    expect(requestsTo(local.emulator, 'POST', /\/cancel$/).map((r) => r.path)).toEqual([
      `/v1/predictions/${id}/cancel`,
    ]);
    await expect(client.wait('nosuchprediction')).rejects.toMatchObject({ kind: 'not_found' });
  });

  test('findPredictions matches model and input, any status, newest first', async () => {
    const client = clientFor(local.emulator);
    const since = new Date(Date.now() - 1000).toISOString();
    const a = await client.run(request);
    const b = await client.run(request);
    await client.run({ ...request, input: { ...request.input, seed: 12 } });
    const found = await client.findPredictions(request, since);
    expect(found.map((p) => p.id).sort()).toEqual([a.id, b.id].sort());
    expect(found.every((p) => p.status === 'succeeded')).toBe(true);
    expect(await client.findPredictions(request, new Date(Date.now() + 60_000).toISOString())).toEqual([]);
  });
});

test('a pacer is asked for a turn per request and told of each 429 with its Retry-After', async () => {
  // Longer than the 1 s sync wait, so the run polls: polls take turns in the other lane.
  local.plan = { processingMs: 1_500 };
  const turns: Lane[] = [];
  const throttled: Array<[Lane, number]> = [];
  local.emulator.inject({ route: 'create', answer: { status: 429, retryAfter: '1' } });
  const pacer = {
    turn: async (lane: Lane) => void turns.push(lane),
    throttled: (lane: Lane, ms: number) => void throttled.push([lane, ms]),
  };
  const client = clientFor(local.emulator, { token: freshToken(), waitSeconds: 1, pacer } as never);
  await client.run(request);
  expect(turns.slice(0, 2)).toEqual(['create', 'create']);
  expect(turns.length).toBeGreaterThan(2);
  expect(turns.slice(2).every((lane) => lane === 'other')).toBe(true);
  expect(turns.length).toBe(local.emulator.requests.length);
  expect(throttled).toHaveLength(1);
  expect(throttled[0]![0]).toBe('create');
  expect(throttled[0]![1]).toBeGreaterThan(900);
});

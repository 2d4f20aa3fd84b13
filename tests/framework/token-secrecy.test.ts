import type { IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, jest, test } from '@jest/globals';
import { ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { startEmulator, type Emulator, type PredictionPlan } from '../../emulator/index.js';
import { createReplicateClient, type ProgressEvent } from '../../index.js';
import { collect, CREDENTIALS, ROOT, spawnOwned } from '../helpers.js';

// A distinctive token: any trace of it in text means a leak.
const SECRET = 'r8_SeCrEt_f1uxBl0cks_doNotLeak_7c4e9a';

let emulator: Emulator;
let plan: PredictionPlan = {};
const seen: string[] = [];
const events: ProgressEvent[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ startingMs: 10, processingMs: 40, plan: () => plan });
  // Everything written to the console or the standard streams during these tests is checked too.
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const original = console[method].bind(console);
    jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      seen.push(args.map(String).join(' '));
      original(...args);
    });
  }
});
afterAll(async () => {
  jest.restoreAllMocks();
  await emulator.close();
});
beforeEach(() => {
  emulator.clearFaults();
  plan = {};
});

const input = { credentials: CREDENTIALS, prompt: 'a brass key on velvet', seed: 5 };
const context = (runner = {}) => ({
  credentials: { apiKey: SECRET },
  runner: {
    baseUrl: emulator.url,
    pollIntervalMs: 20,
    waitSeconds: 1,
    onProgress: (e: ProgressEvent) => events.push(e),
    ...runner,
  },
});
const echo = (headers: IncomingHttpHeaders) => ({
  title: 'Bad Request',
  detail: `refused header ${headers.authorization}`,
  status: 400,
});

/** Runs the block and returns every string it yielded. */
async function texts(runner = {}): Promise<string[]> {
  const outputs = await collect(block, input, context(runner));
  seen.push(...outputs.map(([, value]) => JSON.stringify(value)));
  return outputs.map(([, value]) => String(value));
}

test.each<[string, () => void]>([
  [
    'an error body on create echoes the Authorization header',
    () => emulator.inject({ route: 'create', answer: { status: 400, body: echo } }),
  ],
  ['a 401 echoes it', () => emulator.inject({ route: 'create', answer: { status: 401, body: echo } })],
  [
    'a 422 names it among the invalid fields',
    () =>
      emulator.inject({
        route: 'create',
        answer: {
          status: 422,
          body: (h: IncomingHttpHeaders) => ({
            title: 'Input validation failed',
            status: 422,
            invalid_fields: [{ field: 'input', description: `${h.authorization} is bad` }],
          }),
        },
      }),
  ],
  [
    'every poll fails with it',
    () => {
      plan = { processingMs: 20_000 };
      emulator.inject({ route: 'get', answer: { status: 500, body: echo }, times: 10 });
    },
  ],
  [
    'an HTML error page echoes it, and the cancel fails with it too',
    () => {
      plan = { processingMs: 20_000 };
      emulator.inject({
        route: 'get',
        answer: { status: 502, body: (h: IncomingHttpHeaders) => `<html>${h.authorization}</html>` },
        times: 10,
      });
      emulator.inject({ route: 'cancel', answer: { status: 400, body: echo }, times: 10 });
    },
  ],
  [
    'the model fails with it in its error text',
    () => {
      plan = { outcome: 'failed', error: `token ${SECRET} has no credit` };
    },
  ],
])('%s: the error does not contain the token', async (_, setUp) => {
  setUp();
  const outputs = await texts();
  expect(outputs).toHaveLength(1);
  expect(outputs[0]).toContain('[REDACTED]');
  expect(outputs[0]).not.toContain(SECRET);
});

test('a successful run with progress shows no token anywhere: its outputs, progress events and console lines', async () => {
  plan = { processingMs: 1300 };
  const before = { seen: seen.length, events: events.length };
  const outputs = await texts();
  expect(outputs[0]).toMatch(/^http:\/\//);
  const own = [...seen.slice(before.seen), ...outputs, JSON.stringify(events.slice(before.events))].join('\n');
  expect(events.length - before.events).toBeGreaterThan(1);
  expect(own).not.toContain(SECRET);
});

test("the Replicate client's own errors, for hosts that call it directly, are redacted", async () => {
  emulator.inject({ route: 'create', answer: { status: 400, body: echo } });
  const client = createReplicateClient({ token: SECRET, baseUrl: emulator.url, pollIntervalMs: 20 });
  const error = await client
    .run({ model: 'black-forest-labs/flux-schnell', input: { prompt: 'x' } })
    .catch((e: Error) => e);
  expect(error).toMatchObject({ kind: 'request_rejected' });
  const { message, detail } = error as Error & { detail: string };
  seen.push(message, detail);
  expect(detail).toBe(
    'Replicate API error 400 Bad Request: refused header Bearer [REDACTED]; the largest input is prompt (3 bytes)',
  );
});

test('the CLI prints no token on stdout or stderr', async () => {
  emulator.inject({ route: 'create', answer: { status: 400, body: echo } });
  const child = spawnOwned(
    process.execPath,
    [join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js'), 'run', block.name, '--input', '{"prompt":"x"}'],
    {
      env: { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: SECRET, REPLICATE_BASE_URL: emulator.url },
    },
  );
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise((resolve) => child.on('close', resolve));
  seen.push(out);
  expect(code).toBe(1);
  expect(out).toContain('refused header Bearer [REDACTED]');
  expect(out).not.toContain(SECRET);
});

test('nothing seen in this file, and nothing the emulator recorded, contains the token', () => {
  const everything = [...seen, JSON.stringify(events), JSON.stringify(emulator.requests)].join('\n');
  expect(seen.length).toBeGreaterThan(8);
  expect(everything).not.toContain(SECRET);
  expect(emulator.requests.length).toBeGreaterThan(8);
});

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, test } from '@jest/globals';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { requestsTo, ROOT, spawnOwned, TOKEN } from '../helpers.js';

const BIN = join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js');
const INPUT = JSON.stringify({ prompt: 'a moth at a lamp' });

let emulator: Emulator;
let outDir: string;
beforeAll(async () => {
  // Predictions outlast the 1 s sync wait, so the CLI has to wait for them after the create.
  emulator = await startEmulator({ startingMs: 50, processingMs: 1_500, maxSyncWaitSeconds: 1, token: TOKEN });
  outDir = await mkdtemp(join(tmpdir(), 'flux-blocks-webhooks-'));
});
afterAll(async () => {
  await emulator.close();
  await rm(outDir, { recursive: true, force: true });
});
beforeEach(() => {
  emulator.requests.splice(0);
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnOwned(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: emulator.url },
      cwd: outDir,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const polls = () => requestsTo(emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/);
const webhooksSent = () =>
  requestsTo(emulator, 'POST', /\/predictions$/).map((r) => (r.body as { webhook?: string }).webhook);

/** A TCP port free right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('run --webhook-port N waits for the webhook on 127.0.0.1:N, with no poll', async () => {
  const port = await freePort();
  const { code, stdout, stderr } = await cli([
    'run',
    'ReplicateFluxAdvancedModelBlock',
    '--input',
    INPUT,
    '--webhook-port',
    String(port),
  ]);
  expect(code).toBe(0);
  expect(stdout).toContain('"output":"result"');
  expect(stderr).toContain(`Waiting for webhooks at http://127.0.0.1:${port}/`);
  expect(webhooksSent()).toEqual([`http://127.0.0.1:${port}/`]);
  expect(polls()).toHaveLength(0);
  // The secret came from the API, once.
  expect(requestsTo(emulator, 'GET', /^\/v1\/webhooks\/default\/secret$/)).toHaveLength(1);
});

test('run-graph --webhook-url URL --webhook-port N gives Replicate the URL and receives on the port', async () => {
  const port = await freePort();
  // The URL Replicate calls, here the same receiver under another name (as a tunnel would be).
  const url = `http://localhost:${port}/hooks/replicate`;
  const { code, stderr } = await cli([
    'run-graph',
    join(ROOT, 'examples', 'generate-edit-save.json'),
    '--webhook-url',
    url,
    '--webhook-port',
    String(port),
  ]);
  expect(stderr).toContain(`Waiting for webhooks at ${url} (received on http://127.0.0.1:${port}/)`);
  expect(code).toBe(0);
  expect(webhooksSent()).toEqual([url, url]);
  expect(polls()).toHaveLength(0);
}, 30_000);

test.each([
  [['--webhook-url', 'https://example.com/hook'], '--webhook-url needs --webhook-port'],
  [['--webhook-url', 'example.com/hook', '--webhook-port', '8787'], '--webhook-url takes an http(s) URL'],
  [['--webhook-port', 'abc'], '--webhook-port takes a TCP port number'],
])('bad webhook flags %j: usage error (exit 2), nothing sent', async (flags, message) => {
  const { code, stderr } = await cli(['run', 'ReplicateFluxAdvancedModelBlock', '--input', INPUT, ...flags]);
  expect(code).toBe(2);
  expect(stderr).toContain(message);
  expect(emulator.requests).toHaveLength(0);
});

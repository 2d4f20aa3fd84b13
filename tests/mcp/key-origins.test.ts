import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Client, type CallToolResult } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { listenLocal, OPENAI_KEY, own, requestsTo, TOKEN, useEmulator } from '../helpers.js';
import { BIN } from './connect.js';

// An agent picks the OpenAI-compatible block's base_url: the server sends the key from
// OPENAI_COMPATIBLE_API_KEY only to the origins its operator listed (here with the flag).

const handle = useEmulator();
const requests: string[] = [];
let elsewhere: string;
let out: string;
let client: Client;
let stderr = '';

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'flux-blocks-mcp-origins-'));
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ data: [{ url: 'https://images.example/out-0.png' }] }));
  });
  elsewhere = `${await listenLocal(server)}/v1`;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp', '--out', out, '--openai-compatible-origins', new URL(handle.emulator.url).origin],
    env: {
      PATH: process.env.PATH ?? '',
      REPLICATE_API_TOKEN: TOKEN,
      REPLICATE_BASE_URL: handle.emulator.url,
      OPENAI_COMPATIBLE_API_KEY: OPENAI_KEY,
    },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  client = new Client({ name: 'flux-blocks-tests', version: '1' });
  await own(client.connect(transport), () => client.close());
});
afterAll(() => rm(out, { recursive: true, force: true }));

const call = async (base_url: string) =>
  (await client.callTool({
    name: 'openai_compatible_flux_image',
    arguments: { base_url, prompt: 'A red fox', response_format: 'b64_json' },
  })) as CallToolResult;
const textOf = (result: CallToolResult) =>
  result.content
    .filter((item) => item.type === 'text')
    .map((item) => (item as { text: string }).text)
    .join('\n');

test('a tool call whose base_url is not a listed origin gets an error saying how to allow it, and that origin no request', async () => {
  const result = await call(elsewhere);
  expect(result.isError).toBe(true);
  const text = textOf(result);
  expect(text).toContain(`not to ${new URL(elsewhere).origin}, so nothing was sent`);
  expect(text).toContain('OPENAI_COMPATIBLE_ORIGINS');
  expect(text).toContain('--openai-compatible-origins');
  expect(requests).toEqual([]);
  expect(text + stderr).not.toContain(OPENAI_KEY);
});

test('a tool call to the listed origin runs', async () => {
  const result = await call(handle.emulator.url);
  expect(result.isError).toBeFalsy();
  expect(requestsTo(handle.emulator, 'POST', /^\/v1\/images\/generations$/)).toHaveLength(1);
});

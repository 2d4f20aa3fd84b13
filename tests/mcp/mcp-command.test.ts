import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { CallToolResult } from '@modelcontextprotocol/client';
import { spawnOwned } from '../helpers.js';
import { BIN } from './connect.js';

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'flux-blocks-mcp-cmd-'));
});
afterAll(() => rm(out, { recursive: true, force: true }));

test('without a token or base URL it runs on the embedded emulator, says so, and saves every image', async () => {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp', '--out', out],
    env: { PATH: process.env.PATH ?? '' },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const client = new Client({ name: 'flux-blocks-tests', version: '1' });
  await client.connect(transport);
  try {
    expect(client.getInstructions()).toMatch(/embedded emulator at http:\/\/127\.0\.0\.1:\d+\/v1/);
    const result = (await client.callTool({
      name: 'replicate_flux_advanced_model',
      arguments: { prompt: 'a fox', num_outputs: 2 },
    })) as CallToolResult;
    expect((result.structuredContent as { result: string[] }).result).toHaveLength(2);
    expect(result.content.map((item) => item.type)).toEqual([
      'text',
      'text',
      'image',
      'resource_link',
      'image',
      'resource_link',
    ]);
    expect(await readdir(out)).toHaveLength(2);
  } finally {
    await client.close();
  }
  expect(stderr).toMatch(/embedded emulator/);
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnOwned(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test.each([
  [['mcp', '--port', '3000'], '--port needs --http'],
  [['mcp', '--http', '--port', '1.5'], '--port takes a TCP port number'],
  [['mcp', '--max-image-bytes=-1'], '--max-image-bytes takes a whole number of bytes'],
  [['mcp', '--base-url', 'not a url'], '--base-url takes an http(s) URL'],
  [['mcp', '--bogus'], 'flux-blocks: mcp: unknown flag --bogus; see flux-blocks mcp --help'],
])('flux-blocks %j is a usage error (exit 2), with nothing on stdout', async (args, message) => {
  const { code, stdout, stderr } = await run(args);
  expect(code).toBe(2);
  expect(stderr).toContain(message);
  expect(stdout).toBe('');
});

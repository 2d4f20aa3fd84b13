import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { registry } from '../../blocks/index.js';
import { toolName } from '../../hosts/mcp/tools.js';
import { INSPECTOR } from '../global-setup.js';
import { FAST, spawnOwned, TOKEN, useEmulator } from '../helpers.js';
import { BIN } from './connect.js';

/**
 * The official MCP Inspector's CLI mode against the stdio server. It is run with npx from a
 * temp dir, not a dependency: it is heavy (vite, react, ink) and wants Node >= 22.19, though its
 * CLI runs on Node 20. The suite's global setup brings it into npm's cache before any test.
 */

// It accepts TOKEN only, so a call that succeeds got the token through -e.
const handle = useEmulator({ ...FAST, token: TOKEN });
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-blocks-inspector-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function inspector(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawnOwned('npx', ['--yes', '--prefer-offline', INSPECTOR, '--cli', ...args], {
      cwd: dir,
      // Its catalog file would otherwise be created in ~/.mcp-inspector.
      env: { ...process.env, MCP_CATALOG_PATH: join(dir, 'mcp.json'), NODE_OPTIONS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the MCP Inspector CLI lists a tool per block from the stdio server, with portable schemas (no errors)', async () => {
  const { code, stdout, stderr } = await inspector([
    '-e',
    `REPLICATE_BASE_URL=${handle.emulator.url}`,
    '-e',
    `REPLICATE_API_TOKEN=${TOKEN}`,
    '--method',
    'tools/list',
    '--strict',
    'node',
    BIN,
    'mcp',
  ]);
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const { tools } = JSON.parse(stdout) as { tools: Array<{ name: string }> };
  expect(tools.map((tool) => tool.name)).toEqual([...registry.list().map(toolName), 'run_graph']);
  // Its schema-portability check: warnings (nullable `type` arrays, free-form values) but no errors.
  expect(stderr).toMatch(/\b0 errors\b/);
});

test('the MCP Inspector CLI calls the Flux Advanced tool, which reaches the emulator with the token from -e', async () => {
  const { code, stdout, stderr } = await inspector([
    '-e',
    `REPLICATE_BASE_URL=${handle.emulator.url}`,
    '-e',
    `REPLICATE_API_TOKEN=${TOKEN}`,
    '--method',
    'tools/call',
    '--tool-name',
    'replicate_flux_advanced_model',
    '--tool-arg',
    'prompt=a red fox',
    '--format',
    'json',
    '-q',
    'node',
    BIN,
    'mcp',
    '--max-image-bytes',
    '0',
  ]);
  expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
  const { result } = JSON.parse(stdout) as { result: { structuredContent: { result: string[] } } };
  expect(result.structuredContent.result[0]).toMatch(new RegExp(`^${new URL(handle.emulator.url).origin}/`));
  expect(handle.emulator.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  expect(stdout).not.toContain(TOKEN);
});

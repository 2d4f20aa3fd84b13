import { request } from 'node:http';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { openEnvironment, type HostEnvironment } from '../../hosts/environment/environment.js';
import { HttpSetupError, startMcpHttpServer, type McpHttpServer } from '../../hosts/mcp/http.js';
import { mcpServerFactory } from '../../hosts/mcp/server.js';
import { own, scaled, spawnOwned, TOKEN, useEmulator } from '../helpers.js';
import { BIN } from './connect.js';
import { ALL_BLOCKS } from '../../blocks/index.js';

/** One tool per block, and run_graph. */
const TOOL_COUNT = ALL_BLOCKS.length + 1;

const handle = useEmulator();
let environment: HostEnvironment;
beforeAll(async () => {
  environment = await openEnvironment({ baseUrl: handle.emulator.url }, { REPLICATE_API_TOKEN: TOKEN });
});
afterAll(() => environment.close());

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'curl', version: '1' } },
});

/** A raw initialize POST with the given headers (node:http, so Host can be set). */
function post(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.once('error', reject);
    req.end(INITIALIZE);
  });
}

async function listToolsAt(url: string, headers: Record<string, string> = {}): Promise<number> {
  const client = new Client({ name: 'flux-blocks-tests', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  try {
    return (await client.listTools()).tools.length;
  } finally {
    await client.close();
  }
}

describe('on loopback (default 127.0.0.1)', () => {
  let server: McpHttpServer;
  beforeAll(async () => {
    server = await startMcpHttpServer(mcpServerFactory({ environment }), { port: 0 });
  });
  afterAll(() => server.close());

  test('serves at http://127.0.0.1:<port>/mcp, and localhost Origins pass', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect((await post(server.url, { Origin: 'http://localhost:5173' })).status).toBe(200);
    expect(await listToolsAt(server.url)).toBe(TOOL_COUNT);
  });

  test('a request with a foreign Origin is refused with 403', async () => {
    for (const origin of ['http://evil.example', 'null']) {
      const { status, body } = await post(server.url, { Origin: origin });
      expect(status).toBe(403);
      expect(body).toMatch(/Invalid Origin/);
    }
  });

  test('a request with a foreign Host (DNS rebinding) is refused with 403', async () => {
    const { status, body } = await post(server.url, { Host: `evil.example:${new URL(server.url).port}` });
    expect(status).toBe(403);
    expect(body).toContain('Invalid Host: evil.example');
  });

  test('run_graph with a node id of __proto__ gets a tool error naming it, and the next client still initializes', async () => {
    const client = new Client({ name: 'flux-blocks-tests', version: '1' });
    await own(client.connect(new StreamableHTTPClientTransport(new URL(server.url))), () => client.close());
    const graph = {
      nodes: [{ id: '__proto__', block_id: 'ReplicateFluxAdvancedModelBlock', input_default: { prompt: 'a cat' } }],
    };
    const result = (await client.callTool(
      { name: 'run_graph', arguments: graph },
      { timeout: scaled(20_000) },
    )) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([
      {
        type: 'text',
        text: 'Error: Node id "__proto__" is not allowed: __proto__ is a name every JavaScript object has: pick another, e.g. "generate"',
      },
    ]);
    expect(handle.emulator.requests).toEqual([]);
    expect('result' in {}).toBe(false);
    await client.close();
    expect(await listToolsAt(server.url)).toBe(TOOL_COUNT);
    expect((await post(server.url, {})).status).toBe(200);
  });

  test('other paths are 404', async () => {
    expect((await post(server.url.replace(/\/mcp$/, '/other'), {})).status).toBe(404);
  });
});

describe('off loopback', () => {
  test('binding to a non-loopback address without a token is refused', async () => {
    await expect(startMcpHttpServer(mcpServerFactory({ environment }), { host: '0.0.0.0', port: 0 })).rejects.toThrow(
      HttpSetupError,
    );
    await expect(startMcpHttpServer(mcpServerFactory({ environment }), { host: '0.0.0.0', port: 0 })).rejects.toThrow(
      /--auth-token/,
    );
  });

  test('the CLI refuses it too, with exit status 2, and starts nothing', async () => {
    const child = spawnOwned(process.execPath, [BIN, 'mcp', '--http', '--host', '0.0.0.0', '--port', '0'], {
      env: { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: handle.emulator.url },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /0\.0\.0\.0, not a loopback address, needs a bearer token: pass --auth-token or set MCP_AUTH_TOKEN/,
    );
    expect(stderr).not.toContain('MCP server (Streamable HTTP) at');
  });

  test('with a token, every request must carry it as a bearer token', async () => {
    const server = await startMcpHttpServer(mcpServerFactory({ environment }), {
      host: '0.0.0.0',
      port: 0,
      authToken: 'mcp-secret-0123456789',
    });
    try {
      const local = server.url.replace('0.0.0.0', '127.0.0.1');
      expect((await post(local, {})).status).toBe(401);
      expect((await post(local, { Authorization: 'Bearer wrong-secret-0123456789' })).status).toBe(401);
      expect(await listToolsAt(local, { Authorization: 'Bearer mcp-secret-0123456789' })).toBe(TOOL_COUNT);
      // The Host check still applies off loopback.
      expect((await post(local, { Authorization: 'Bearer mcp-secret-0123456789', Host: 'evil.example' })).status).toBe(
        403,
      );
    } finally {
      await server.close();
    }
  });

  test("off loopback it answers to the machine's host name; --allowed-hosts adds names, and bad ones are usage errors", async () => {
    const bearer = { Authorization: 'Bearer mcp-secret-0123456789' };
    const start = (allowedHosts?: string[]) =>
      startMcpHttpServer(mcpServerFactory({ environment }), {
        host: '0.0.0.0',
        port: 0,
        authToken: 'mcp-secret-0123456789',
        allowedHosts,
      });
    for (const [allowedHosts, evil] of [
      [undefined, 403],
      [['evil.example'], 200],
    ] as const) {
      const server = await start(allowedHosts && [...allowedHosts]);
      try {
        const local = server.url.replace('0.0.0.0', '127.0.0.1');
        const port = new URL(local).port;
        expect((await post(local, { ...bearer, Host: `${hostname()}:${port}` })).status).toBe(200);
        expect((await post(local, { ...bearer, Host: `evil.example:${port}` })).status).toBe(evil);
      } finally {
        await server.close();
      }
    }
    const child = spawnOwned(process.execPath, [BIN, 'mcp', '--http', '--allowed-hosts', 'evil.example/path'], {
      env: { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: handle.emulator.url },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(2);
    expect(stderr).toContain('--allowed-hosts takes comma-separated host names or IP addresses without a port');
  });
});

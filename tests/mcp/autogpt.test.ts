// AutoGPT's MCP Tool block reaches `flux-blocks mcp --http` behind a reverse proxy at a public
// name (it refuses loopback and private addresses). These tests send its exact requests
// (autogpt_platform/backend/backend/blocks/mcp/client.py in Significant-Gravitas/AutoGPT): the
// OAuth probe, initialize at 2025-03-26, notifications/initialized, tools/list, tools/call, and
// the DELETE that ends the session, with the Host header a proxy such as Caddy passes on.
import { request } from 'node:http';
import { describe, expect, test } from '@jest/globals';
import { spawnOwned, TOKEN, until, useEmulator } from '../helpers.js';
import { BIN } from './connect.js';

const handle = useEmulator();

const PUBLIC_NAME = 'flux.example.com';
const AUTH_TOKEN = 'autogpt-test-bearer-0123456789abcdef';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request to the server with the Host header a proxy passes on (node:http, so Host can be set). */
function send(url: string, method: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.once('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The JSON-RPC answer of a POST as AutoGPT reads it: JSON, or the last SSE `data:` line with an id. */
function rpcAnswer(answer: Answer): { result?: Record<string, unknown>; error?: unknown } {
  if (!String(answer.headers['content-type']).includes('text/event-stream'))
    return JSON.parse(answer.body) as { result?: Record<string, unknown> };
  const messages = answer.body
    .split('\n')
    .filter((line) => line.startsWith('data:'))
    .map((line) => JSON.parse(line.slice(5).trim()) as Record<string, unknown>)
    .filter((message) => 'id' in message);
  return messages.at(-1) as { result?: Record<string, unknown> };
}

/** AutoGPT's MCPClient, request for request, against `url` with `host` as the Host header. */
function autogptClient(url: string, host: string, authorization: string | undefined) {
  let sessionId: string | undefined;
  let nextId = 0;
  const headers = () => ({
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    Host: host,
    ...(authorization && { Authorization: authorization }),
    ...(sessionId && { 'Mcp-Session-Id': sessionId }),
  });
  const call = async (method: string, params?: Record<string, unknown>) => {
    const answer = await send(url, 'POST', headers(), {
      jsonrpc: '2.0',
      method,
      id: ++nextId,
      ...(params && { params }),
    });
    const session = answer.headers['mcp-session-id'];
    if (typeof session === 'string') sessionId = session;
    return answer;
  };
  const origin = new URL(url).origin;
  return {
    probe: () =>
      Promise.all(
        ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource'].map((path) =>
          send(`${origin}${path}`, 'GET', { Host: host }),
        ),
      ),
    initialize: () =>
      call('initialize', {
        protocolVersion: '2025-03-26',
        capabilities: {},
        clientInfo: { name: 'AutoGPT-Platform', version: '1.0.0' },
      }),
    initialized: () => send(url, 'POST', headers(), { jsonrpc: '2.0', method: 'notifications/initialized' }),
    call,
    close: () => send(url, 'DELETE', headers()),
    sessionId: () => sessionId,
  };
}

/** `flux-blocks mcp --http` on 127.0.0.1 (a free port) with the bearer token, as behind a proxy; its URL. */
async function startServer(args: string[], env: Record<string, string> = {}): Promise<string> {
  const child = spawnOwned(
    process.execPath,
    [BIN, 'mcp', '--http', '--host', '127.0.0.1', '--port', '0', '--auth-token', AUTH_TOKEN, ...args],
    {
      env: {
        PATH: process.env.PATH ?? '',
        REPLICATE_API_TOKEN: TOKEN,
        REPLICATE_BASE_URL: handle.emulator.url,
        ...env,
      },
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`flux-blocks mcp exited ${code}: ${stderr}`))),
  );
  exited.catch(() => undefined); // once the URL is read, a later exit is the cleanup's
  return Promise.race([exited, until(() => /MCP server \(Streamable HTTP\) at (http:\/\/\S+)/.exec(stderr)?.[1])]);
}

describe.each([
  ['--allowed-hosts', ['--allowed-hosts', PUBLIC_NAME], {}],
  ['FLUX_BLOCKS_ALLOWED_HOSTS', [], { FLUX_BLOCKS_ALLOWED_HOSTS: `other.example,${PUBLIC_NAME}` }],
])('behind a proxy at a public name in %s', (_, args, env) => {
  let url: string;

  test("AutoGPT's request sequence generates a Flux image; the text items hold the URL and the seed", async () => {
    url = await startServer(args, env);
    const client = autogptClient(url, PUBLIC_NAME, `Bearer ${AUTH_TOKEN}`);

    // No OAuth metadata: AutoGPT then uses the bearer token it was given as the credential.
    for (const probe of await client.probe()) expect(probe.status).not.toBe(200);

    const initialize = await client.initialize();
    expect(initialize.status).toBe(200);
    expect(rpcAnswer(initialize).result).toMatchObject({ protocolVersion: '2025-03-26' });
    expect(client.sessionId()).toEqual(expect.any(String));
    expect((await client.initialized()).status).toBe(202);

    const list = rpcAnswer(await client.call('tools/list'));
    const tools = (list.result!.tools as Array<{ name: string }>).map((tool) => tool.name);
    expect(tools).toContain('replicate_flux_advanced_model');

    const called = await client.call('tools/call', {
      name: 'replicate_flux_advanced_model',
      arguments: { prompt: 'a fox in the snow', seed: 42 },
    });
    expect(called.status).toBe(200);
    const result = rpcAnswer(called).result as { content: Array<Record<string, unknown>>; isError?: boolean };
    expect(result.isError).toBeFalsy();
    // What AutoGPT's block does with content: each text item parsed as JSON where it is JSON.
    const texts = result.content.filter((item) => item.type === 'text').map((item) => String(item.text));
    const parsed = texts.flatMap((text) => {
      try {
        return [JSON.parse(text) as unknown];
      } catch {
        return [];
      }
    });
    // cost_usd: the actual cost of the call (1 image x $0.003), which an AutoGPT graph can wire too.
    expect(parsed).toEqual([
      { result: [expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\//)], seed: 42, cost_usd: 0.003 },
    ]);
    const [imageUrl] = (parsed[0] as { result: string[] }).result;
    expect(texts[0]).toContain(`result: ${imageUrl}`);
    expect(texts[0]).toContain('seed: 42');
    expect(result.content.map((item) => item.type)).toEqual(['text', 'text', 'image']);

    expect((await client.close()).status).toBe(200);
    // The session is gone: the next request with its id is refused.
    expect((await client.call('tools/list')).status).toBe(404);
  });

  test('a Host not allowed gets 403, and no token gets 401, before anything runs', async () => {
    const created = handle.emulator.requests.length;
    const foreign = autogptClient(url, 'evil.example', `Bearer ${AUTH_TOKEN}`);
    expect((await foreign.initialize()).status).toBe(403);
    const anonymous = autogptClient(url, PUBLIC_NAME, undefined);
    expect((await anonymous.initialize()).status).toBe(401);
    const wrong = autogptClient(url, PUBLIC_NAME, 'Bearer not-the-token');
    expect((await wrong.initialize()).status).toBe(401);
    expect(handle.emulator.requests.length).toBe(created);
  });
});

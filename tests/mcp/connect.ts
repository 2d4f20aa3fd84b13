import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { Emulator } from '../../emulator/index.js';
import { openEnvironment } from '../../hosts/environment/environment.js';
import { startMcpHttpServer } from '../../hosts/mcp/http.js';
import { mcpServerFactory } from '../../hosts/mcp/server.js';
import { ROOT, TOKEN } from '../helpers.js';

export const BIN = join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js');

/** A connected SDK client, what its server wrote on stderr (stdio only), and how to close both. */
export interface Connection {
  readonly client: Client;
  /** Everything the server process wrote on stderr so far (stdio), or '' (in-process HTTP). */
  stderr(): string;
  /** Errors the client's transport reported (a non-protocol line on stdout would land here). */
  readonly transportErrors: Error[];
  close(): Promise<void>;
}

/** The built CLI's `flux-blocks mcp` over stdio, reaching `emulator` with {@link TOKEN}. */
export async function connectStdio(emulator: Emulator, out: string): Promise<Connection> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp', '--out', out],
    env: { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: emulator.url },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const transportErrors: Error[] = [];
  const client = new Client({ name: 'flux-blocks-tests', version: '1' });
  client.onerror = (error) => transportErrors.push(error);
  await client.connect(transport);
  return { client, stderr: () => stderr, transportErrors, close: () => client.close() };
}

/** The server in-process over Streamable HTTP on 127.0.0.1 (a free port), reaching `emulator` with {@link TOKEN}. */
export async function connectHttp(
  emulator: Emulator,
  out: string,
  options: { era?: 'legacy' | 'modern' } = {},
): Promise<Connection & { url: string }> {
  const environment = await openEnvironment({ baseUrl: emulator.url }, { REPLICATE_API_TOKEN: TOKEN });
  const server = await startMcpHttpServer(mcpServerFactory({ environment, out }), { port: 0 });
  const transportErrors: Error[] = [];
  const client = new Client(
    { name: 'flux-blocks-tests', version: '1' },
    options.era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : undefined,
  );
  client.onerror = (error) => transportErrors.push(error);
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
  return {
    client,
    url: server.url,
    stderr: () => '',
    transportErrors,
    close: async () => {
      await client.close();
      await server.close();
      await environment.close();
    },
  };
}

import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { hostHeaderValidation, originValidation, toNodeHandler } from '@modelcontextprotocol/node';
import {
  createMcpHandler,
  isLegacyRequest,
  localhostAllowedHostnames,
  type McpServer,
} from '@modelcontextprotocol/server';
import { isLoopback, machineNames } from '../environment/allowed-hosts.js';
import { listenError } from '../environment/listen.js';
import { legacySessions } from './sessions.js';

/** Where and how the Streamable HTTP endpoint listens. */
export interface HttpOptions {
  /** TCP port; 0 picks a free one. Default {@link DEFAULT_PORT}. */
  readonly port?: number;
  /** Address to bind. Default `127.0.0.1`. Any other than loopback needs `authToken`. */
  readonly host?: string;
  /** Bearer token every request must carry (`Authorization: Bearer <token>`); required off loopback. */
  readonly authToken?: string;
  /** Largest request body, in bytes (data: URI images travel in arguments). Default 33554432 (32 MiB). */
  readonly maxRequestBodySize?: number;
  /**
   * More host names or addresses the Host and Origin checks accept (`--allowed-hosts`), e.g. a
   * reverse proxy's name; lowercase, IPv6 in brackets (as `allowedHostsOf` gives them). Default none.
   */
  readonly allowedHosts?: readonly string[];
}

/** A running endpoint. */
export interface McpHttpServer {
  /** e.g. `http://127.0.0.1:3100/mcp`. */
  readonly url: string;
  /** Stops accepting requests, ends open ones, and closes the handler. */
  close(): Promise<void>;
}

/** Default port of `flux-blocks mcp --http`. */
export const DEFAULT_PORT = 3100;

/** The path the endpoint serves; others get 404. */
export const MCP_PATH = '/mcp';

/** Refused start: a non-loopback bind without a token, for example. */
export class HttpSetupError extends Error {}

/**
 * Serves MCP over Streamable HTTP at `http://host:port/mcp`: 2026-07-28 requests through the
 * SDK's `createMcpHandler` (a server from `factory` per request), 2025-era ones in sessions
 * ({@link legacySessions}, a server per session, so cancellation reaches the call).
 *
 * Before the handler, each request passes (DNS rebinding protection and access control):
 * - the `Host` check: on loopback, `localhost`, `127.0.0.1` or `[::1]`; otherwise also the bound
 *   host, this machine's host name and its interface addresses; always `allowedHosts`. Others get 403.
 * - the `Origin` check (browsers send one): the same names, else 403; no Origin passes.
 * - with `authToken`, `Authorization: Bearer <authToken>`, else 401.
 * @throws {HttpSetupError} when `host` is not loopback and no `authToken` is given.
 * @throws {Error} `cannot listen on <host>:<port>: <reason>` when it cannot bind (e.g. the port is in use).
 */
export async function startMcpHttpServer(factory: () => McpServer, options: HttpOptions = {}): Promise<McpHttpServer> {
  const host = options.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  if (!loopback && !options.authToken) {
    throw new HttpSetupError(
      `Binding to ${host}, not a loopback address, needs a bearer token: pass --auth-token or set MCP_AUTH_TOKEN`,
    );
  }
  const names = [
    ...localhostAllowedHostnames(),
    ...(loopback ? [] : machineNames(host)),
    ...(options.allowedHosts ?? []),
  ];
  const checkHost = hostHeaderValidation(names);
  const checkOrigin = originValidation(names);
  const maxRequestBodySize = options.maxRequestBodySize ?? 32 * 1024 * 1024;
  const modern = createMcpHandler(factory, { legacy: 'reject', maxRequestBodySize });
  const legacy = legacySessions(factory, maxRequestBodySize);
  const route = async (request: Request) =>
    (await isLegacyRequest(request, undefined, { maxRequestBodySize })) ? legacy.fetch(request) : modern.fetch(request);
  // The body limit sits on every layer: the adapter's applies first.
  const handle = toNodeHandler({ fetch: route }, { maxRequestBodySize });
  const expected = options.authToken ? Buffer.from(`Bearer ${options.authToken}`) : undefined;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!checkHost(req, res) || !checkOrigin(req, res)) return;
    if (expected && !matches(req.headers.authorization, expected)) {
      res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer' });
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          error: { code: -32001, message: "Unauthorized: send Authorization: Bearer <the server's --auth-token>" },
          id: null,
        }),
      );
      return;
    }
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== MCP_PATH) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`Not found: the MCP endpoint is ${MCP_PATH}`);
      return;
    }
    void handle(req, res);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? DEFAULT_PORT, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await Promise.all([modern.close(), legacy.close()]);
    throw listenError(error, host, options.port ?? DEFAULT_PORT);
  }
  const { port } = server.address() as AddressInfo;
  const shown = isIP(host) === 6 ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}${MCP_PATH}`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.all([modern.close(), legacy.close()]);
    },
  };
}

/** Compared in constant time, so response times do not reveal the token. */
function matches(header: string | undefined, expected: Buffer): boolean {
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { ALLOWED_HOSTS_OPTION, allowedHostsOf, isLoopback } from '../environment/allowed-hosts.js';
import { openEnvironment } from '../environment/environment.js';
import { stopSignal } from '../environment/signals.js';
import { UsageError } from '../environment/usage-error.js';
import { HttpSetupError, startMcpHttpServer } from './http.js';
import { DEFAULT_MAX_IMAGE_BYTES } from './results.js';
import { mcpServerFactory } from './server.js';
import { parseFlags } from '../environment/parse-flags.js';

/** Where the embedded emulator's images are saved without --out: its URLs die with the process. */
const EMBEDDED_OUT = join(tmpdir(), 'flux-blocks-mcp');

/**
 * `flux-blocks mcp`: serves every block as an MCP tool, over stdio (default; stdout carries
 * protocol messages only, everything else goes to stderr) or with `--http` over Streamable HTTP
 * at `http://H:N/mcp` (default 127.0.0.1:3100). The token comes from `REPLICATE_API_TOKEN`, the
 * base URL from `--base-url` or `REPLICATE_BASE_URL`; with neither, an embedded emulator, whose
 * images are always saved (into --out, default the system temp dir's flux-blocks-mcp/).
 * `--auth-token` (or `MCP_AUTH_TOKEN`) is the bearer token HTTP requests must carry; a
 * non-loopback `--host` requires one. `--allowed-hosts a,b` (or `FLUX_BLOCKS_ALLOWED_HOSTS`; the
 * flag wins) adds names the Host and Origin checks accept (a reverse proxy's), besides loopback
 * and, off loopback, the machine's own.
 * @returns the exit status: 0 after stdin closed (stdio) or SIGINT/SIGTERM (a second signal, or a
 *   close taking over 8 s, exits at once with 130 or 143: `onStopSignals`), 2 when the HTTP
 *   setup is refused.
 * @throws {UsageError} for bad flags, before anything starts.
 * @throws {Error} when the HTTP server cannot listen (the CLI exits 1), after closing the environment.
 */
export async function mcpCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // A usage error goes up to the CLI, which prints it as for every command and exits 2.
  const flags = parse(args, env);
  // Only protocol messages may reach stdout in stdio mode: anything logged goes to stderr.
  if (!flags.http) console.log = console.error;
  const environment = await openEnvironment({ baseUrl: flags.baseUrl, openAiOrigins: flags.openAiOrigins });
  // Absolute, so links and messages name the file wherever the client looks from.
  const out = flags.out !== undefined ? resolve(flags.out) : environment.embedded ? EMBEDDED_OUT : undefined;
  console.error(environment.description);
  if (out !== undefined) console.error(`Saving result images into ${out}.`);
  const factory = mcpServerFactory({ environment, out, maxImageBytes: flags.maxImageBytes });
  try {
    if (flags.http) {
      const server = await startMcpHttpServer(factory, {
        port: flags.port,
        host: flags.host,
        authToken: flags.authToken,
        allowedHosts: flags.allowedHosts,
      });
      console.error(
        `MCP server (Streamable HTTP) at ${server.url}${flags.authToken ? ' (bearer token required)' : ''}`,
      );
      await stopSignal();
      await server.close();
    } else {
      const handle = serveStdio(factory, { onerror: (error) => console.error(`flux-blocks mcp: ${error.message}`) });
      await Promise.race([
        stopSignal(),
        new Promise((resolve) => process.stdin.once('end', resolve).once('close', resolve)),
      ]);
      await handle.close();
    }
  } catch (error) {
    if (!(error instanceof HttpSetupError)) throw error;
    console.error(`flux-blocks mcp: ${error.message}`);
    return 2;
  } finally {
    await environment.close();
  }
  return 0;
}

function parse(args: string[], env: NodeJS.ProcessEnv) {
  const { values } = parseFlags('mcp', args, {
    http: { type: 'boolean' },
    port: { type: 'string' },
    host: { type: 'string' },
    'base-url': { type: 'string' },
    'openai-compatible-origins': { type: 'string' },
    out: { type: 'string' },
    'max-image-bytes': { type: 'string' },
    'auth-token': { type: 'string' },
    ...ALLOWED_HOSTS_OPTION,
  });
  const http = values.http ?? false;
  for (const name of ['port', 'host', 'auth-token', 'allowed-hosts'] as const) {
    if (!http && values[name] !== undefined) throw new UsageError(`--${name} needs --http`);
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw new UsageError('--port takes a TCP port number (0-65535)');
  const maxImageBytes =
    values['max-image-bytes'] === undefined ? DEFAULT_MAX_IMAGE_BYTES : Number(values['max-image-bytes']);
  if (!Number.isInteger(maxImageBytes) || maxImageBytes < 0)
    throw new UsageError('--max-image-bytes takes a whole number of bytes (0 sends no images)');
  const authToken = values['auth-token'] ?? (env.MCP_AUTH_TOKEN || undefined);
  // As startMcpHttpServer would refuse it, but before the embedded emulator starts.
  const host = values.host ?? '127.0.0.1';
  if (http && !isLoopback(host) && !authToken)
    throw new UsageError(
      `Binding to ${host}, not a loopback address, needs a bearer token: pass --auth-token or set MCP_AUTH_TOKEN`,
    );
  // The variable may be set for the studio too: without --http it is not read.
  const allowedHosts = http ? allowedHostsOf(values['allowed-hosts'], env) : [];
  return {
    http,
    port,
    host: values.host,
    baseUrl: values['base-url'],
    openAiOrigins: values['openai-compatible-origins'],
    out: values.out,
    maxImageBytes,
    authToken,
    allowedHosts,
  };
}

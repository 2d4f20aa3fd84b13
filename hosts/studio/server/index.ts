import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { createRegistry } from 'replicate-flux-blocks/blocks/index.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { isLoopback, isWildcard, machineNames } from '../../environment/allowed-hosts.js';
import { openEnvironment, type HostEnvironment } from '../../environment/environment.js';
import { libraryFile } from '../../environment/library-files.js';
import { listenError } from '../../environment/listen.js';
import { createStudioApp } from './app.js';

/** The hosts package's root (hosts/), from hosts/dist/studio/server/ (built) or hosts/studio/server/ (ts-jest). */
const ROOT = ((above) => (basename(above) === 'dist' ? dirname(above) : above))(
  resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'),
);

/** How to start the studio; every field is optional. */
export interface StudioOptions {
  /** TCP port; 0 (default 8484 from the CLI) picks a free one. */
  readonly port?: number;
  /** Interface to listen on. Default `127.0.0.1`; others are reachable from the network, with the token as the only gate. */
  readonly host?: string;
  /** Directory Save Image and previews write into, and the only one files are served from. Default `out`. */
  readonly out?: string;
  /** Replicate or a compatible proxy; default `REPLICATE_BASE_URL`, else Replicate (with a token) or the embedded emulator. */
  readonly baseUrl?: string;
  /** Origins the OpenAI-compatible key may go to, comma-separated; default `OPENAI_COMPATIBLE_ORIGINS`, else none. */
  readonly openAiOrigins?: string;
  /** Session token; default 24 random bytes, base64url. */
  readonly token?: string;
  /** Where the Replicate token and base URL come from. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Blocks the palette offers. Default every block of this package. */
  readonly registry?: BlockRegistry;
  /**
   * More host names or addresses the Host and Origin checks accept (`--allowed-hosts`), e.g. a
   * reverse proxy's name; lowercase, IPv6 in brackets (as `allowedHostsOf` gives them). Default none.
   */
  readonly allowedHosts?: readonly string[];
  /** Most bytes the uploads folder (`<out>/uploads/`) may hold; default 1 GiB (`MAX_UPLOADS_FOLDER_BYTES`). */
  readonly maxUploadsBytes?: number;
}

/** A running studio. */
export interface Studio {
  /** The URL to open, with the session token: `http://127.0.0.1:<port>/?token=...`. */
  readonly url: string;
  readonly port: number;
  readonly environment: HostEnvironment;
  /** Cancels runs, stops the server and the embedded emulator, if any. */
  close(): Promise<void>;
}

/**
 * Starts the studio: the page (built into hosts/dist/studio/public), its API, and the environment
 * runs use ({@link openEnvironment}: token from `REPLICATE_API_TOKEN`, else the embedded
 * emulator). The Host allowlist, at the port actually bound: `127.0.0.1`, `localhost` and
 * `[::1]`; `host` itself on loopback, else the machine's names (`host` unless a wildcard such as
 * `0.0.0.0`, `os.hostname()`, every interface address); and `allowedHosts`.
 * @throws {Error} `cannot listen on <host>:<port>: <reason>` when it cannot bind (e.g. the port is
 *   in use), after closing the environment it opened.
 */
export async function startStudio(options: StudioOptions = {}): Promise<Studio> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? randomBytes(24).toString('base64url');
  const outDir = resolve(options.out ?? 'out');
  await mkdir(outDir, { recursive: true });
  const environment = await openEnvironment(
    { baseUrl: options.baseUrl, openAiOrigins: options.openAiOrigins, out: outDir },
    options.env,
  );
  // Runs report progress early: a short sync wait, then polls (the default waits up to 60 s silently).
  const live: HostEnvironment = {
    ...environment,
    context: { ...environment.context, runner: { ...environment.context.runner, waitSeconds: 1 } },
  };
  let port = options.port ?? 0;
  const hosts = new Set<string>();
  const { app, runs } = createStudioApp({
    registry: options.registry ?? createRegistry(),
    environment: live,
    outDir,
    publicDir: join(ROOT, 'dist', 'studio', 'public'),
    examplesDir: libraryFile('examples'),
    maxUploadsBytes: options.maxUploadsBytes,
    token,
    hosts: () => hosts,
    cookie: () => `flux_studio_${port}`,
  });
  const server = serve({ fetch: app.fetch, port, hostname: host });
  try {
    await new Promise<void>((ready, fail) => server.once('listening', ready).once('error', fail));
  } catch (error) {
    // The embedded emulator would keep the process alive: a studio that cannot listen leaves nothing open.
    runs.cancelAll();
    await environment.close();
    throw listenError(error, host, port);
  }
  port = (server.address() as AddressInfo).port;
  // Bound off loopback, the machine is reached by its own names too (what else would a remote browser use?).
  const names = [
    '127.0.0.1',
    'localhost',
    '[::1]',
    ...(isLoopback(host) ? [host.includes(':') ? `[${host}]` : host] : machineNames(host)),
    ...(options.allowedHosts ?? []),
  ];
  for (const name of names) hosts.add(`${name.toLowerCase()}:${port}`);
  const shown = isWildcard(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/?token=${token}`,
    port,
    environment,
    close: async () => {
      runs.cancelAll();
      await new Promise<void>((done) => {
        server.close(() => done());
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      await environment.close();
    },
  };
}

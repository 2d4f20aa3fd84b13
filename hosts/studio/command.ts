import { ALLOWED_HOSTS_OPTION, allowedHostsOf } from '../environment/allowed-hosts.js';
import { stopSignal } from '../environment/signals.js';
import { startStudio } from './server/index.js';
import { parseFlags } from '../environment/parse-flags.js';

/** Port the studio listens on unless `--port` says otherwise. */
export const DEFAULT_PORT = 8484;

/**
 * `flux-blocks studio [--port N] [--host H] [--allowed-hosts A,B] [--out DIR] [--base-url URL] [--openai-compatible-origins LIST]`:
 * serves the studio ({@link startStudio}; port default 8484, host 127.0.0.1, out `out/`; the Host
 * check also accepts the `--allowed-hosts` names, else `FLUX_BLOCKS_ALLOWED_HOSTS`'s, and off loopback the machine's), prints its URL
 * with the session token on stdout and where runs go on stderr, and runs until SIGINT or SIGTERM,
 * which cancel the runs going (a second signal, or a close taking over 8 s, exits at once: `onStopSignals`).
 * @returns the exit status: 0, or 2 for a bad port.
 * @throws {UsageError} for an unknown flag or one without its value.
 */
export async function studioCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseFlags('studio', args, {
    port: { type: 'string' },
    host: { type: 'string' },
    out: { type: 'string' },
    'base-url': { type: 'string' },
    ...ALLOWED_HOSTS_OPTION,
    'openai-compatible-origins': { type: 'string' },
  });
  const port = Number(values.port ?? DEFAULT_PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('flux-blocks: --port takes a TCP port number (0-65535)');
    return 2;
  }
  const studio = await startStudio({
    port,
    host: values.host,
    out: values.out,
    baseUrl: values['base-url'],
    allowedHosts: allowedHostsOf(values['allowed-hosts'], env),
    openAiOrigins: values['openai-compatible-origins'],
  });
  console.error(studio.environment.description);
  if (values.host && !['127.0.0.1', 'localhost', '::1'].includes(values.host))
    console.error(
      `Listening on ${values.host}: anyone who can reach it and has the token can run graphs on your Replicate account.`,
    );
  console.log(`Studio: ${studio.url}`);
  await stopSignal();
  await studio.close();
  return 0;
}

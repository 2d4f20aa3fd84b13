import { relative } from 'node:path';
import { ReplicateFluxAdvancedModelBlock } from 'replicate-flux-blocks/blocks/index.js';
import { isFetchBadPort, startEmulator } from 'replicate-flux-emulator';
import { stopSignal } from '../environment/signals.js';
import { parseFlags, UsageError } from './flags.js';

/**
 * `flux-blocks emulator [--port N] [--token TOKEN] [--quiet]`: the local Replicate-compatible
 * server until Ctrl-C or SIGTERM (a second signal, or a close taking over 8 s, exits at once), logging each request on stderr (method, path, status, ms; never the token)
 * unless --quiet.
 */
export async function emulatorCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('emulator', args, {
    port: { type: 'string' },
    token: { type: 'string' },
    quiet: { type: 'boolean' },
  });
  const port = Number(values.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError('--port takes a TCP port number (0-65535)');
  // A client's fetch would never reach it there.
  if (isFetchBadPort(port))
    throw new UsageError(
      `--port ${port} is a port fetch refuses to connect to (as browsers do); pick another, or 0 for any free one`,
    );
  const log = values.quiet ? undefined : (line: string) => console.error(line);
  const server = await startEmulator({ port, token: values.token, log });
  console.log(`Replicate-compatible emulator listening at ${server.url}`);
  // The command exactly as this process was started, so the line works when pasted.
  const self = `${process.argv0 === 'node' ? 'node' : process.execPath} ${relative(process.cwd(), process.argv[1]!) || process.argv[1]}`;
  const token = values.token === undefined ? 'any' : `'${values.token.replace(/'/g, "'\\''")}'`;
  console.log(
    `Try: REPLICATE_BASE_URL=${server.url} REPLICATE_API_TOKEN=${token} ${self} run ${ReplicateFluxAdvancedModelBlock.name} --input '{"prompt":"a red fox"}'`,
  );
  await stopSignal();
  await server.close();
  return 0;
}

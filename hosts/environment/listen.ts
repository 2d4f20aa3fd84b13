import { isIP } from 'node:net';

/** What people can act on, by the error code `listen` fails with. */
const REASONS: Record<string, string> = {
  EADDRINUSE: 'the port is already in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: "the address is not one of this machine's",
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
};

/**
 * A server's failed `listen` as one line, e.g. `cannot listen on 127.0.0.1:8484: the port is
 * already in use`, instead of Node's `listen EADDRINUSE: address already in use ...`.
 */
export function listenError(error: unknown, host: string, port: number): Error {
  const { code, message } = error as NodeJS.ErrnoException;
  const shown = isIP(host) === 6 ? `[${host}]` : host;
  return Object.assign(new Error(`cannot listen on ${shown}:${port}: ${(code && REASONS[code]) ?? message}`), { code });
}

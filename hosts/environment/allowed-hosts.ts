import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { UsageError } from './usage-error.js';

/** The `--allowed-hosts` flag, for `parseArgs` (`studio`, `mcp --http`). */
export const ALLOWED_HOSTS_OPTION = { 'allowed-hosts': { type: 'string' } } as const;

/** True for `localhost`, 127.0.0.0/8 and ::1 (bracketed or not). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

/** Whether `host` is a wildcard bind address (every interface): `0.0.0.0`, `::` or `[::]`. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** A host name or IP address as a Host header names it: lowercase, IPv6 in brackets. */
function asHostName(name: string): string {
  return isIP(name) === 6 ? `[${name.toLowerCase()}]` : name.toLowerCase();
}

/**
 * The names a client on the network may use for this machine, for a server bound to `host`:
 * the bound host itself (unless a wildcard), the machine's host name (`os.hostname()`) and every
 * address of its network interfaces (`os.networkInterfaces()`), IPv6 ones in brackets.
 */
export function machineNames(host: string): string[] {
  const addresses = Object.values(networkInterfaces()).flatMap((list) =>
    (list ?? []).map((info) => asHostName(info.address)),
  );
  return [
    ...(isWildcard(host) ? [] : [asHostName(host.replace(/^\[|\]$/g, ''))]),
    hostname().toLowerCase(),
    ...addresses,
  ];
}

/** The environment variable `studio` and `mcp --http` read when `--allowed-hosts` is not given. */
export const ALLOWED_HOSTS_VARIABLE = 'FLUX_BLOCKS_ALLOWED_HOSTS';

/**
 * The `--allowed-hosts` list: comma-separated host names or IP addresses (no port, no scheme),
 * e.g. `studio.example.com,10.0.0.5`, which the Host (and Origin) check accepts besides the
 * machine's own names (a reverse proxy's or a tunnel's name). Each as a Host header names it
 * (lowercase; IPv6 in brackets; international names in punycode). Without the flag, the
 * environment variable {@link ALLOWED_HOSTS_VARIABLE} (same syntax; empty counts as unset).
 * @returns an empty list with neither.
 * @throws {UsageError} (the CLI exits 2) naming the flag or variable and a value that is not a
 *   host name or address.
 */
export function allowedHostsOf(flag: string | undefined, env: NodeJS.ProcessEnv = {}): string[] {
  const fromEnv = env[ALLOWED_HOSTS_VARIABLE] || undefined;
  const list = flag ?? fromEnv;
  if (list === undefined) return [];
  const source = flag !== undefined ? '--allowed-hosts' : ALLOWED_HOSTS_VARIABLE;
  return list.split(',').map((entry) => {
    const name = entry.trim();
    const bracketed = isIP(name) === 6 ? `[${name}]` : name;
    const url = URL.canParse(`http://${bracketed}`) ? new URL(`http://${bracketed}`) : undefined;
    // Only a bare name survives as the whole host: no port, path, user or empty entry.
    if (!name || !url || url.port || url.host !== url.hostname || url.pathname !== '/' || /[/@?#]/.test(name)) {
      throw new UsageError(
        `${source} takes comma-separated host names or IP addresses without a port, e.g. studio.example.com,10.0.0.5; "${entry}" is not one`,
      );
    }
    return url.hostname;
  });
}

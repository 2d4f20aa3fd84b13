import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

// Addresses a URL from a graph must not reach: the host's own machine and networks (SSRF).
// Source: the IANA special-purpose address registries (IPv4 and IPv6).
const PRIVATE = new BlockList();
const PRIVATE_IPV4 = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const;
for (const [network, prefix] of PRIVATE_IPV4) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
  // The same networks embedded in IPv6 forms that reach them: IPv4-compatible (::a.b.c.d,
  // ::/96, RFC 4291 2.5.5.1) and 6to4 (2002:AABB:CCDD::/16, the IPv4 address in bits 16-48,
  // RFC 3056). IPv4-mapped (::ffff:a.b.c.d) addresses BlockList checks against the IPv4 rules itself.
  const [a, b, c, d] = network.split('.').map(Number) as [number, number, number, number];
  const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
  PRIVATE.addSubnet(`::${network}`, 96 + prefix, 'ipv6');
  PRIVATE.addSubnet(`2002:${hex(a, b)}:${hex(c, d)}::`, 16 + prefix, 'ipv6');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

/**
 * True for loopback, private, link-local, shared, multicast, reserved and unspecified addresses,
 * also as IPv4-mapped, IPv4-compatible and 6to4 IPv6 addresses; true for anything that is not an IP address.
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  return family === 0 || PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Resolves a host name to every address it has, as `dns.lookup` with `all: true` does. */
export type ResolveAll = (
  hostname: string,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/**
 * A `lookup` for node:http(s) that checks every address a name resolves to at connect time, so
 * a DNS answer cannot slip a private address past an earlier check, nor hide one behind a public
 * first address. Fails with code `EPRIVATE` (and the `address`) when any address is private.
 * @param resolveAll how names are resolved; default `dns.lookup`.
 */
export function publicOnlyLookupWith(resolveAll: ResolveAll): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    resolveAll(hostname, (error, addresses) => {
      if (error) return callback(error);
      const refused = addresses.find((a) => isPrivateAddress(a.address));
      if (refused)
        return callback(
          Object.assign(new Error(`${hostname} resolves to ${refused.address}`), {
            code: 'EPRIVATE',
            address: refused.address,
          }),
        );
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as unknown as LookupFunction;
}

/** {@link publicOnlyLookupWith} on the system resolver. */
export const publicOnlyLookup = publicOnlyLookupWith((hostname, callback) =>
  dnsLookup(hostname, { all: true }, callback),
);

import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis connection options from a Redis URL, as BullMQ's `connection` takes them:
 * - `redis://[user[:password]@]host[:port][/db]` (port 6379, db 0 by default), `rediss://` for TLS;
 * - `unix:///path/to/redis.sock` or a plain absolute path, for a Redis on a unix socket
 *   (`?db=N` selects a database).
 * No `keyPrefix`: BullMQ refuses it (queues take their own `prefix`).
 * @throws {Error} naming the URL's scheme, host, port or db when it cannot be one (the
 *   password is never repeated).
 */
export function redisConnection(url: string): RedisOptions {
  const text = url.trim();
  if (text.startsWith('/')) return { path: text };
  if (!URL.canParse(text))
    throw new Error('redis: not a URL; use redis://host:port, rediss://host:port or unix:///path/to/redis.sock');
  const parsed = new URL(text);
  const db = dbOf(
    parsed.protocol === 'unix:' ? (parsed.searchParams.get('db') ?? '') : parsed.pathname.replace(/^\//, ''),
  );
  if (parsed.protocol === 'unix:') {
    if (!parsed.pathname || parsed.pathname === '/')
      throw new Error('redis: a unix: URL needs the socket path, e.g. unix:///run/redis/redis.sock');
    return { path: decodeURIComponent(parsed.pathname), db };
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`redis: unsupported scheme "${parsed.protocol}"; use redis:, rediss: or unix:`);
  }
  const port = parsed.port ? Number(parsed.port) : 6379;
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port,
    db,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

function dbOf(text: string): number {
  if (text === '') return 0;
  const db = Number(text);
  if (!Number.isInteger(db) || db < 0) throw new Error(`redis: the database "${text}" is not a whole number`);
  return db;
}

/**
 * Where ioredis options point, as a URL for messages: `redis://host:port`, `rediss://...`,
 * `unix:///path`, with the db when not 0. Never the user name or password.
 */
export function redisAddress(connection: RedisOptions): string {
  const db = connection.db || undefined;
  if (connection.path !== undefined) return `unix://${connection.path}${db === undefined ? '' : `?db=${db}`}`;
  const host = connection.host ?? 'localhost';
  const shown = isIP(host) === 6 ? `[${host}]` : host;
  return `${connection.tls ? 'rediss' : 'redis'}://${shown}:${connection.port ?? 6379}${db === undefined ? '' : `/${db}`}`;
}

/** How long {@link checkRedis} waits for Redis, in ms. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Connects once and pings, so a queue or worker opened on an unreachable Redis fails at once
 * instead of BullMQ's connections retrying forever in silence. Waits at most 10 s.
 * @throws {Error} `redis: cannot connect (<cause>) to <address>`, the address from {@link redisAddress}.
 */
export async function checkRedis(connection: RedisOptions): Promise<void> {
  const client = new Redis({
    ...connection,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
  });
  let cause: Error | undefined;
  client.on('error', (error: Error) => (cause ??= error));
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new Error(`redis: cannot connect (${(cause ?? (error as Error)).message}) to ${redisAddress(connection)}`);
  } finally {
    // After a failed connect it has ended; disconnecting again would leave ioredis's 2 s
    // disconnect timer holding the process.
    if (client.status !== 'end') client.disconnect();
  }
}

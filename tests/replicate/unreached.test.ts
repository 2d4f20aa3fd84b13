import { createServer } from 'node:net';
import { describe, expect, test } from '@jest/globals';
import { FETCH_BAD_PORTS, startEmulator } from '../../emulator/index.js';
import { createReplicateClient } from '../../index.js';
import { TOKEN } from '../helpers.js';

/** A port nothing listens on: one the OS gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const run = (baseUrl: string) =>
  createReplicateClient({ token: TOKEN, baseUrl, timeoutMs: 20_000 }).run({
    model: 'black-forest-labs/flux-schnell',
    input: { prompt: 'x' },
  });

describe('a create that never reached a server says so, and speaks of no prediction to cancel', () => {
  test.each([
    [
      'a refused connection',
      async () => `http://127.0.0.1:${await closedPort()}/v1`,
      /ECONNREFUSED \(connection refused\)/,
    ],
    [
      'a name that does not resolve',
      async () => 'http://no-such-host.invalid/v1',
      /(ENOTFOUND \(host not found\)|EAI_AGAIN \(DNS lookup failed\))/,
    ],
    // The client sends through undici's dispatcher, which does not refuse fetch's bad ports: nothing listens there.
    [
      'a port fetch refuses (6000)',
      async () => 'http://127.0.0.1:6000/v1',
      /bad port \(a port fetch refuses to connect to\)|ECONNREFUSED \(connection refused\)/,
    ],
  ])(
    '%s',
    async (_, baseUrl, cause) => {
      const url = await baseUrl();
      const error = await run(url).catch((e: unknown) => e as { kind: string; message: string });
      expect(error.kind).toBe('unreachable');
      expect(error.message).toMatch(
        new RegExp(`^The Replicate API at ${url.replace(/[.:/]/g, '\\$&')} was not reached: `),
      );
      expect(error.message).toMatch(cause);
      expect(error.message).toContain('nothing was sent to it');
      expect(error.message).not.toMatch(/cancel|prediction/i);
    },
    30_000,
  );
});

describe("fetch's bad ports", () => {
  test('fetch refuses every listed port, and not the ports around them', async () => {
    const refused = async (port: number) => {
      const error = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2_000) }).then(
        () => undefined,
        (e: unknown) => e as { cause?: { message?: string } },
      );
      return error?.cause?.message === 'bad port';
    };
    for (const port of FETCH_BAD_PORTS) expect([port, await refused(port)]).toEqual([port, true]);
    for (const port of [2, 6001, 8080, 10081]) expect([port, await refused(port)]).toEqual([port, false]);
  });

  test('the emulator refuses to start on one, naming it', async () => {
    await expect(startEmulator({ port: 6000 })).rejects.toThrow(/^Port 6000 is one that fetch refuses to connect to/);
  });
});

import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { fetchImage } from '../../shared/image/fetch-image.js';
import { publicOnlyLookupWith, type ResolveAll } from '../../shared/image/private-address.js';

let server: Server;
let origin = '';
let hits = 0;

beforeAll(async () => {
  // /loop redirects to itself, for ever.
  server = createServer((req, res) => {
    hits += 1;
    res.writeHead(302, { Location: req.url! }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('a URL that redirects to itself ends with the redirect-limit error after 5 redirects', async () => {
  hits = 0;
  await expect(fetchImage(`${origin}/loop`, { allowedOrigins: [origin] })).rejects.toMatchObject({
    kind: 'download_failed',
    detail: `${origin}/loop redirected more than 5 times`,
  });
  expect(hits).toBe(6);
});

/** What the lookup gives node:http for `name`, with `resolveAll` as the resolver. */
function lookUp(
  resolveAll: ResolveAll,
  all: boolean,
): Promise<{ error?: NodeJS.ErrnoException & { address?: string }; address?: unknown }> {
  const lookup = publicOnlyLookupWith(resolveAll) as unknown as (
    h: string,
    o: { all?: boolean },
    cb: (e: NodeJS.ErrnoException | null, a?: unknown) => void,
  ) => void;
  return new Promise((resolve) =>
    lookup('images.example', { all }, (error, address) => resolve(error ? { error } : { address })),
  );
}

test.each([false, true])(
  'a name resolving to a public and a private address is refused (all: %s), whichever comes first',
  async (all) => {
    for (const order of [
      ['93.184.216.34', '10.0.0.7'],
      ['10.0.0.7', '93.184.216.34'],
    ]) {
      const { error } = await lookUp(
        (_, callback) =>
          callback(
            null,
            order.map((address) => ({ address, family: 4 })),
          ),
        all,
      );
      expect(error).toMatchObject({ code: 'EPRIVATE', address: '10.0.0.7' });
    }
  },
);

test('a name resolving only to public addresses is given to the connection', async () => {
  const addresses = [
    { address: '93.184.216.34', family: 4 },
    { address: '2606:2800:220:1::1', family: 6 },
  ];
  expect(await lookUp((_, callback) => callback(null, addresses), true)).toEqual({ address: addresses });
  expect(await lookUp((_, callback) => callback(null, addresses), false)).toEqual({ address: '93.184.216.34' });
});

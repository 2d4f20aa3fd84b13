import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { startStudio, type Studio } from '../../hosts/studio/server/index.js';
import { MAX_BODY_BYTES } from '../../hosts/studio/server/app.js';
import type { RunEvent } from '../../hosts/studio/protocol.js';
import {
  fanOutGraph,
  killed,
  OPENAI_KEY,
  own,
  ROOT,
  scaled,
  spawnOwned,
  TOKEN,
  until,
  useEmulator,
} from '../helpers.js';

// The studio's HTTP API without a browser: node:http where a header must be forged (fetch drops Host).
const handle = useEmulator();
let studio: Studio;
let out: string;
let base: string;
let cookie: string;
const SESSION = 'studio-session-token-for-tests';
const BIN = join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js');

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'studio-api-'));
  studio = await startStudio({
    port: 0,
    baseUrl: handle.emulator.url,
    out,
    token: SESSION,
    env: { REPLICATE_API_TOKEN: TOKEN, OPENAI_COMPATIBLE_API_KEY: OPENAI_KEY },
  });
  base = `http://127.0.0.1:${studio.port}`;
  const answer = await fetch(`${base}/?token=${SESSION}`, { redirect: 'manual' });
  cookie = answer.headers.get('set-cookie')!.split(';')[0]!;
});

afterAll(async () => {
  await studio.close();
  await rm(out, { recursive: true, force: true });
});

/** A request with the session cookie and our own Origin. */
function api(path: string, init: RequestInit = {}) {
  return fetch(base + path, {
    ...init,
    headers: { Cookie: cookie, Origin: base, 'Content-Type': 'application/json', ...init.headers },
  });
}

/** A raw request whose Host and path are sent exactly as given (to `port`, default the studio's). */
function raw(
  path: string,
  headers: Record<string, string>,
  port = studio.port,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject).end();
  });
}

/** A run's events, read from its SSE stream to the end. */
async function events(id: string, headers: Record<string, string> = {}): Promise<{ text: string; events: RunEvent[] }> {
  const text = await (await api(`/api/runs/${id}/events`, { headers })).text();
  const events = text
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice(6)) as RunEvent);
  return { text, events };
}

const GRAPH = {
  nodes: [
    { id: 'make', block_id: 'ReplicateFluxAdvancedModelBlock', input_default: { prompt: 'a red fox' } },
    { id: 'keep', block_id: 'SaveImageBlock', input_default: {} },
  ],
  links: [{ source_id: 'make', source_name: 'result', sink_id: 'keep', sink_name: 'image' }],
};

describe('studio API', () => {
  test('the token link sets an HttpOnly, SameSite=Strict cookie and redirects to the page without the token', async () => {
    const answer = await fetch(`${base}/some/page?token=${SESSION}&x=1`, { redirect: 'manual' });
    expect(answer.status).toBe(303);
    expect(answer.headers.get('location')).toBe('/some/page?x=1');
    expect(answer.headers.get('set-cookie')).toMatch(
      new RegExp(`^flux_studio_${studio.port}=${SESSION}; Path=/; HttpOnly; SameSite=Strict$`),
    );
    expect((await fetch(`${base}/?token=wrong-token`)).status).toBe(401);
    expect((await fetch(`${base}/api/info`)).status).toBe(401);
    expect((await fetch(`${base}/`, { headers: { Cookie: `flux_studio_${studio.port}=${SESSION}x` } })).status).toBe(
      401,
    );
    const page = await fetch(`${base}/`, { headers: { Cookie: cookie } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/main.js">');
  });

  test('a foreign Host (DNS rebinding) gets 403; loopback names pass', async () => {
    expect((await raw('/api/info', { Host: `evil.example:${studio.port}`, Cookie: cookie })).status).toBe(403);
    expect((await raw('/api/info', { Host: `localhost:${studio.port}`, Cookie: cookie })).status).toBe(200);
    expect((await raw('/api/info', { Host: `127.0.0.1:${studio.port}`, Cookie: cookie })).status).toBe(200);
  });

  test('a state-changing request needs our own Origin', async () => {
    const body = JSON.stringify(GRAPH);
    expect((await fetch(`${base}/api/check`, { method: 'POST', headers: { Cookie: cookie }, body })).status).toBe(403);
    expect((await api('/api/check', { method: 'POST', headers: { Origin: 'http://evil.example' }, body })).status).toBe(
      403,
    );
    expect(
      (await api('/api/check', { method: 'POST', headers: { Origin: `http://localhost:${studio.port}` }, body }))
        .status,
    ).toBe(200);
  });

  test(`request bodies over ${MAX_BODY_BYTES} bytes get 413`, async () => {
    const answer = await api('/api/check', {
      method: 'POST',
      body: JSON.stringify({ nodes: [], pad: 'x'.repeat(MAX_BODY_BYTES) }),
    });
    expect(answer.status).toBe(413);
  });

  test('files are served from the out directory only', async () => {
    await writeFile(join(out, 'kept.png'), 'not really a png');
    expect(await (await api('/files/kept.png')).text()).toBe('not really a png');
    for (const path of [
      '/files/../package.json',
      '/files/..%2fpackage.json',
      '/files/%2e%2e/package.json',
      '/files//etc/passwd',
      '/files/missing.png',
    ]) {
      expect([path, (await raw(path, { Host: `127.0.0.1:${studio.port}`, Cookie: cookie })).status]).toEqual([
        path,
        404,
      ]);
    }
  });

  test('the check answers with the GraphError message and the node or link it names', async () => {
    const missing = await (
      await api('/api/check', { method: 'POST', body: JSON.stringify({ ...GRAPH, links: [] }) })
    ).json();
    expect(missing).toEqual({
      ok: false,
      node: 'keep',
      error: 'Node keep (SaveImageBlock): required input image is neither set in input_default nor linked',
    });
    const link = { source_id: 'make', source_name: 'error', sink_id: 'keep', sink_name: 'image' };
    const fromError = await (
      await api('/api/check', { method: 'POST', body: JSON.stringify({ ...GRAPH, links: [link] }) })
    ).json();
    expect(fromError).toMatchObject({
      ok: false,
      link,
      error: expect.stringMatching(/^Link make\.error -> keep\.image: links from error/),
    });
    const refused = await api('/api/runs', { method: 'POST', body: JSON.stringify({ ...GRAPH, links: [] }) });
    expect(refused.status).toBe(422);
    expect(handle.emulator.requests).toEqual([]);
    expect(await (await api('/api/check', { method: 'POST', body: JSON.stringify(GRAPH) })).json()).toEqual({
      ok: true,
    });
  });

  test('the estimate answers the worst-case cost per node and in total, names unknown prices, and creates nothing', async () => {
    const estimate = async (graph: unknown) =>
      (await api('/api/estimate', { method: 'POST', body: JSON.stringify(graph) })).json();
    const four = {
      ...GRAPH,
      nodes: [{ ...GRAPH.nodes[0]!, input_default: { prompt: 'a fox', num_outputs: 4 } }, GRAPH.nodes[1]!],
    };
    expect(await estimate(four)).toEqual({
      ok: true,
      estimate: {
        total: '$0.012',
        knownUsd: 0.012,
        nodes: [
          'make (ReplicateFluxAdvancedModelBlock, black-forest-labs/flux-schnell): 1 run x 4 images x $0.003 = $0.012',
          'keep (SaveImageBlock): 4 runs, no charge',
        ],
        unknown: [],
      },
    });
    const flux2 = { nodes: [{ id: 'two', block_id: 'ReplicateFlux2Block', input_default: { prompt: 'a fox' } }] };
    expect(await estimate(flux2)).toMatchObject({
      ok: true,
      estimate: {
        total: 'at least $0, 1 node unknown (two)',
        unknown: [{ node: 'two', model: 'black-forest-labs/flux-2-pro' }],
      },
    });
    // A graph that cannot run has no estimate: the check's problem instead.
    expect(await estimate({ ...GRAPH, links: [] })).toMatchObject({ ok: false, node: 'keep' });
    expect(handle.emulator.requests).toEqual([]);
  });

  test('a run streams each node queued, running, succeeded, its outputs with previews saved in out/, then done; the token is never sent', async () => {
    const started = await api('/api/runs', { method: 'POST', body: JSON.stringify(GRAPH) });
    expect(started.status).toBe(201);
    const { id } = (await started.json()) as { id: string };
    const { text, events: all } = await events(id);
    const statuses = (node: string) => all.flatMap((e) => (e.type === 'node' && e.node === node ? [e.status] : []));
    expect(statuses('make')[0]).toBe('queued');
    expect(statuses('make')).toContain('running');
    expect(statuses('make').at(-1)).toBe('succeeded');
    expect(statuses('keep')).toEqual(['queued', 'running', 'succeeded']);
    expect(all.at(-1)).toEqual({
      type: 'done',
      status: 'succeeded',
      // The actual cost of the run: its one prediction's image x the price per image.
      cost: {
        total: '$0.003',
        nodes: ['make (ReplicateFluxAdvancedModelBlock): black-forest-labs/flux-schnell: 1 image x $0.003 = $0.003'],
      },
    });
    const path = all.find((e) => e.type === 'output' && e.output === 'path');
    expect(path).toMatchObject({ node: 'keep', preview: expect.stringMatching(/^\/files\/[0-9a-f]{16}\.webp$/) });
    const image = await api((path as { preview: string }).preview);
    expect(image.headers.get('content-type')).toBe('image/webp');
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    // The emulator's URL is previewed from the saved copy, the same file Save Image wrote.
    expect(all.find((e) => e.type === 'output' && e.output === 'result')).toMatchObject({
      preview: (path as { preview: string }).preview,
    });

    // Resuming after event 3 replays the rest, as EventSource does after a dropped connection.
    const resumed = await events(id, { 'Last-Event-ID': '3' });
    expect(resumed.events).toEqual(all.slice(4));

    const pages = [
      text,
      await (await api('/api/info')).text(),
      await (await api('/api/blocks')).text(),
      await (await api('/api/examples')).text(),
    ];
    for (const page of pages) expect(page).not.toContain(TOKEN);
    for (const page of pages) expect(page).not.toContain(OPENAI_KEY);
  });

  test('an output that is no image keeps its value and ends succeeded, without a preview; a __proto__ node id is refused', async () => {
    handle.plan = { outputBytes: Buffer.from('not an image at all') };
    const graph = { nodes: [GRAPH.nodes[0]!] };
    const { id } = (await (await api('/api/runs', { method: 'POST', body: JSON.stringify(graph) })).json()) as {
      id: string;
    };
    const { events: all } = await events(id);
    const result = all.find((e) => e.type === 'output' && e.output === 'result') as { value: string; preview?: string };
    expect(result.value).toMatch(new RegExp(`^${new URL(handle.emulator.url).origin}/`));
    expect(result.preview).toBeUndefined();
    expect(all.at(-1)).toEqual({
      type: 'done',
      status: 'succeeded',
      // The actual cost of the run: its one prediction's image x the price per image.
      cost: {
        total: '$0.003',
        nodes: ['make (ReplicateFluxAdvancedModelBlock): black-forest-labs/flux-schnell: 1 image x $0.003 = $0.003'],
      },
    });

    const proto = { nodes: [{ ...GRAPH.nodes[0]!, id: '__proto__' }] };
    expect(await (await api('/api/check', { method: 'POST', body: JSON.stringify(proto) })).json()).toEqual({
      ok: false,
      node: '__proto__',
      error:
        'Node id "__proto__" is not allowed: __proto__ is a name every JavaScript object has: pick another, e.g. "generate"',
    });
  });

  test("nodes can pick each provider's key the host holds, by name", async () => {
    const { credentials } = (await (await api('/api/info')).json()) as {
      credentials: Array<{ provider: string; id: string }>;
    };
    expect(credentials.map(({ provider, id }) => `${provider}: ${id}`)).toEqual([
      'replicate: REPLICATE_API_TOKEN',
      'openai_compatible: OPENAI_COMPATIBLE_API_KEY',
    ]);
  });

  test('a failed prediction fails its node with the message and stops the nodes after it', async () => {
    handle.plan = { outcome: 'failed', error: 'CUDA out of memory' };
    const { id } = (await (await api('/api/runs', { method: 'POST', body: JSON.stringify(GRAPH) })).json()) as {
      id: string;
    };
    const { events: all } = await events(id);
    expect(all.filter((e) => e.type === 'node' && e.node === 'make').at(-1)).toMatchObject({
      status: 'failed',
      message: expect.stringContaining('CUDA out of memory'),
    });
    expect(all.filter((e) => e.type === 'node' && e.node === 'keep').at(-1)).toEqual({
      type: 'node',
      node: 'keep',
      status: 'stopped',
      message: 'Not run: a node upstream of it failed',
    });
    expect(all.at(-1)).toEqual({
      type: 'done',
      status: 'failed',
      // A failed prediction made no image: per-image pricing bills none.
      cost: {
        total: '$0',
        nodes: ['make (ReplicateFluxAdvancedModelBlock): black-forest-labs/flux-schnell: 0 images x $0.003 = $0'],
      },
    });
  });

  test('a graph that fans out to 1,111,111 node runs is refused at once, naming the node where it passes 1,000', async () => {
    const graph = JSON.stringify(fanOutGraph(6, 10));
    const startedAt = Date.now();
    const refused = await api('/api/runs', { method: 'POST', body: graph });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({
      node: 'l3-8',
      error: expect.stringMatching(
        /^Node l3-8 \(SaveImageBlock\): the graph could make 1011 node runs by this node, past the limit of 1000 \(maxNodeRuns\)/,
      ),
    });
    expect(await (await api('/api/check', { method: 'POST', body: graph })).json()).toMatchObject({
      ok: false,
      node: 'l3-8',
    });
    expect(Date.now() - startedAt).toBeLessThan(scaled(2_000));
  });

  test('cancel stops a run: its prediction is canceled and the node ends canceled', async () => {
    handle.plan = { processingMs: 600_000 };
    const { id } = (await (await api('/api/runs', { method: 'POST', body: JSON.stringify(GRAPH) })).json()) as {
      id: string;
    };
    const stream = events(id);
    while (!handle.emulator.requests.some((r) => r.method === 'POST' && r.path.endsWith('/predictions')))
      await new Promise((r) => setTimeout(r, 20));
    expect((await api(`/api/runs/${id}/cancel`, { method: 'POST' })).status).toBe(202);
    const { events: all } = await stream;
    expect(all.at(-1)).toEqual({
      type: 'done',
      status: 'canceled',
      // Canceled while it ran: no ended prediction was seen, so the cost is unknown, not $0.
      cost: {
        total: 'at least $0, unknown for 1 node (make)',
        nodes: [
          expect.stringMatching(/^make \(ReplicateFluxAdvancedModelBlock\): unknown \(no ended prediction was seen: /),
        ],
      },
    });
    expect(all.filter((e) => e.type === 'node' && e.node === 'make').at(-1)).toMatchObject({ status: 'canceled' });
    expect(all.filter((e) => e.type === 'node' && e.node === 'keep').at(-1)).toMatchObject({ status: 'canceled' });
    expect(
      handle.emulator.requests.filter((r) => r.method === 'POST' && /^\/v1\/predictions\/\w+\/cancel$/.test(r.path)),
    ).toHaveLength(1);
  });
});

describe('bound to 0.0.0.0', () => {
  /** The Host check's answer at `port` for `host`: the token link (303 and the cookie) or 403. */
  async function signIn(port: number, host: string): Promise<{ status: number; cookie?: string }> {
    const answer = await raw(`/?token=${SESSION}`, { Host: `${host}:${port}` }, port);
    const setCookie = answer.headers['set-cookie'] as string[] | undefined;
    return { status: answer.status, cookie: setCookie?.[0]?.split(';')[0] };
  }

  test("it answers to the machine's host name and addresses, with the session token; a foreign Host gets 403", async () => {
    const wide = await own(
      startStudio({ port: 0, host: '0.0.0.0', baseUrl: handle.emulator.url, out, token: SESSION, env: {} }),
      (s) => s.close(),
    );
    const name = hostname();
    const byName = await signIn(wide.port, name);
    expect(byName.status).toBe(303);
    expect((await raw('/api/info', { Host: `${name}:${wide.port}`, Cookie: byName.cookie! }, wide.port)).status).toBe(
      200,
    );
    // Without the token, the name alone opens nothing.
    expect((await raw('/api/info', { Host: `${name}:${wide.port}` }, wide.port)).status).toBe(401);
    const address = Object.values(networkInterfaces())
      .flatMap((list) => list ?? [])
      .find((info) => info.family === 'IPv4')!.address;
    expect((await signIn(wide.port, address)).status).toBe(303);
    expect((await signIn(wide.port, 'evil.example')).status).toBe(403);
    // A foreign page's Origin is still refused under the machine's name.
    expect(
      (
        await raw(
          '/api/info',
          { Host: `${name}:${wide.port}`, Cookie: byName.cookie!, Origin: 'http://evil.example' },
          wide.port,
        )
      ).status,
    ).toBe(403);
  });

  test('flux-blocks studio --allowed-hosts evil.example lets that name in; a malformed list is a usage error', async () => {
    const env = { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: handle.emulator.url };
    const child = spawnOwned(
      process.execPath,
      [
        BIN,
        'studio',
        '--host',
        '0.0.0.0',
        '--port',
        '0',
        '--out',
        out,
        '--allowed-hosts',
        'Evil.Example, other.example',
      ],
      { env },
    );
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const url = new URL(await until(() => /Studio: (\S+)/.exec(stdout)?.[1]));
    const port = Number(url.port);
    const token = url.searchParams.get('token')!;
    const answer = await raw(`/?token=${token}`, { Host: `evil.example:${port}` }, port);
    expect(answer.status).toBe(303);
    expect((await raw(`/?token=${token}`, { Host: `other.example:${port}` }, port)).status).toBe(303);
    expect((await raw(`/?token=${token}`, { Host: `third.example:${port}` }, port)).status).toBe(403);
    await killed(child);

    const bad = spawnOwned(process.execPath, [BIN, 'studio', '--port', '0', '--allowed-hosts', 'evil.example:8080'], {
      env,
    });
    let stderr = '';
    bad.stderr.on('data', (chunk) => (stderr += chunk));
    expect(await new Promise((resolve) => bad.on('close', resolve))).toBe(2);
    expect(stderr).toContain('--allowed-hosts takes comma-separated host names or IP addresses without a port');
  });
});

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { getGlobalDispatcher, ProxyAgent, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { TimeoutError } from 'ky';
import { transport } from '../../shared/replicate/transport.js';
import { abortWhen, until } from '../helpers.js';

// The client's fetch over real HTTP: what it sends, and the Response-like answer ky reads.
let server: Server;
let origin = '';
const closed: string[] = [];
let received: { method: string; url: string; headers: IncomingMessage['headers']; body: string } | undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.on('close', () => closed.push(req.url!));
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      received = { method: req.method!, url: req.url!, headers: req.headers, body };
      if (req.url === '/early-hints') {
        res.writeEarlyHints({ link: '</style.css>; rel=preload' });
        return void res.writeHead(200).end('after hints');
      }
      // These never finish (closed after all tests): a timeout or abort is then the only way out,
      // however late a busy machine runs the client's timers.
      if (req.url!.startsWith('/slow-headers')) return;
      if (req.url === '/slow-body') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.write('{"a":');
      }
      const status = Number(/status=(\d+)/.exec(req.url!)?.[1] ?? 200);
      res
        .writeHead(status, [
          ['content-type', 'application/json'],
          ['x-multi', 'a'],
          ['x-multi', 'b'],
        ])
        .end('{"answer":42,"text":"é"}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('transport', () => {
  test('sends the method, headers and serialized body it is given', async () => {
    // The Request's own headers (ky's) are not sent: the given ones are all the request needs.
    const request = new Request(`${origin}/v1/predictions?x=1#fragment`, {
      method: 'POST',
      headers: { 'x-from-request': 'dropped' },
    });
    await transport(request, {
      sentHeaders: { authorization: 'Bearer t', 'content-type': 'application/json' },
      sentBody: '{"input":{}}',
      timeoutMs: 5_000,
    });
    expect(received).toMatchObject({ method: 'POST', url: '/v1/predictions?x=1', body: '{"input":{}}' });
    expect(received!.headers).toMatchObject({ authorization: 'Bearer t', 'content-type': 'application/json' });
    expect(received!.headers['x-from-request']).toBeUndefined();
  });

  test('answers like a fetch Response: status, ok, status text, headers, body read whole', async () => {
    const response = await transport(new Request(`${origin}/ok`), { sentHeaders: {}, timeoutMs: 5_000 });
    expect(response).toMatchObject({
      url: `${origin}/ok`,
      status: 200,
      ok: true,
      statusText: 'OK',
      redirected: false,
      bodyUsed: false,
      body: null,
      type: 'basic',
    });
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(response.headers.get('x-multi')).toBe('a, b');
    expect(await response.clone().json()).toEqual({ answer: 42, text: 'é' });
    expect(await response.text()).toBe('{"answer":42,"text":"é"}');
    expect(new TextDecoder().decode(await response.arrayBuffer())).toBe('{"answer":42,"text":"é"}');
  });

  test.each([
    [201, true, 'Created'],
    [299, true, ''],
    [300, false, 'Multiple Choices'],
    [429, false, 'Too Many Requests'],
    [503, false, 'Service Unavailable'],
  ])('status %d: ok is %s, status text "%s"', async (status, ok, statusText) => {
    const response = await transport(new Request(`${origin}/?status=${status}`), { sentHeaders: {}, timeoutMs: 5_000 });
    expect([response.status, response.ok, response.statusText]).toEqual([status, ok, statusText]);
  });

  test("sends through the process's undici dispatcher, one a host set with setGlobalDispatcher included", async () => {
    const key = Symbol.for('undici.globalDispatcher.1');
    const global = globalThis as unknown as Record<
      symbol,
      { dispatch(options: { path: string }, handler: unknown): boolean }
    >;
    const nodes = global[key]!;
    const paths: string[] = [];
    global[key] = { dispatch: (options, handler) => (paths.push(options.path), nodes.dispatch(options, handler)) };
    try {
      const response = await transport(new Request(`${origin}/through-host-dispatcher`), {
        sentHeaders: {},
        timeoutMs: 5_000,
      });
      expect([response.status, paths]).toEqual([200, ['/through-host-dispatcher']]);
    } finally {
      global[key] = nodes;
    }
  });

  test("a host's HTTP proxy, set for fetch with the undici package's setGlobalDispatcher, carries the request", async () => {
    // A CONNECT proxy on loopback, as undici's ProxyAgent tunnels through one.
    const tunnels: string[] = [];
    const proxy = createServer().on('connect', (req: IncomingMessage, socket, head) => {
      tunnels.push(req.url!);
      const [host, port] = req.url!.split(':');
      const upstream = connect(Number(port), host!, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const nodes = getGlobalDispatcher();
    const agent = new ProxyAgent(`http://127.0.0.1:${(proxy.address() as { port: number }).port}`);
    setGlobalDispatcher(agent);
    try {
      const response = await transport(new Request(`${origin}/through-proxy`, { method: 'POST' }), {
        sentHeaders: {},
        sentBody: '{"input":{}}',
        timeoutMs: 5_000,
      });
      expect([response.status, await response.json()]).toEqual([200, { answer: 42, text: 'é' }]);
      expect(received).toMatchObject({ method: 'POST', url: '/through-proxy', body: '{"input":{}}' });
      expect(tunnels).toEqual([new URL(origin).host]);
    } finally {
      setGlobalDispatcher(nodes);
      await agent.close();
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  test('a request with a body of its own (uploads) goes through fetch, with its own headers and the given ones', async () => {
    const form = new FormData();
    form.set('filename', 'a.png');
    const response = await transport(new Request(`${origin}/fetch`, { method: 'POST', body: form }), {
      sentHeaders: { authorization: 'Bearer t' },
      timeoutMs: 5_000,
    });
    expect(response).toBeInstanceOf(Response);
    expect(received).toMatchObject({
      method: 'POST',
      headers: { authorization: 'Bearer t', 'content-type': expect.stringMatching(/^multipart\/form-data; boundary=/) },
    });
    expect(received!.body).toContain('a.png');
  });

  test("no answer within timeoutMs, to the headers or in the body, is ky's TimeoutError", async () => {
    await expect(
      transport(new Request(`${origin}/slow-headers`), { sentHeaders: {}, timeoutMs: 100 }),
    ).rejects.toBeInstanceOf(TimeoutError);
    await expect(
      transport(new Request(`${origin}/slow-body`), { sentHeaders: {}, timeoutMs: 100 }),
    ).rejects.toBeInstanceOf(TimeoutError);
  });

  test("an abort rejects with the signal's reason; a network failure as fetch does, a TypeError with the cause", async () => {
    const controller = new AbortController();
    const pending = transport(new Request(`${origin}/slow-headers`), {
      sentHeaders: {},
      stopSignal: controller.signal,
      timeoutMs: 5_000,
    });
    controller.abort(new Error('stopped'));
    await expect(pending).rejects.toThrow('stopped');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await transport(new Request(`http://127.0.0.1:${port}/`), {
      sentHeaders: {},
      timeoutMs: 5_000,
    }).catch((e: unknown) => e as TypeError & { cause: { code: string } });
    expect(error).toMatchObject({ name: 'TypeError', message: 'fetch failed', cause: { code: 'ECONNREFUSED' } });
  });

  test('an informational answer (103) is passed over for the final one', async () => {
    const response = await transport(new Request(`${origin}/early-hints`), { sentHeaders: {}, timeoutMs: 5_000 });
    expect([response.status, await response.text()]).toEqual([200, 'after hints']);
  });

  test('an abort while waiting closes the request; a signal aborted before sending sends nothing', async () => {
    // Aborted once the server holds the request (which it never answers).
    received = undefined;
    const { signal } = abortWhen(() => received?.url === '/slow-headers?closed', new Error('host stopped'));
    const pending = transport(new Request(`${origin}/slow-headers?closed`), {
      sentHeaders: {},
      stopSignal: signal,
      timeoutMs: 5_000,
    });
    await expect(pending).rejects.toThrow('host stopped');
    await until(() => closed.includes('/slow-headers?closed'));
    received = undefined;
    await expect(
      transport(new Request(`${origin}/never-sent`), {
        sentHeaders: {},
        stopSignal: AbortSignal.abort(new Error('already stopped')),
        timeoutMs: 5_000,
      }),
    ).rejects.toThrow('already stopped');
    expect(received).toBeUndefined();
  });
});

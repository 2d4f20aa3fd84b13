import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TimeoutError as KyTimeoutError } from 'ky';
import { transport } from '../../replicate/transport.js';

// A plain HTTP server whose answer each test picks by path.
let server: Server;
let base: string;
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }> = [];
const closed: string[] = [];
const routes: Record<string, (response: ServerResponse) => void> = {
  '/json': (response) => {
    response.setHeader('Set-Cookie', ['a=1', 'b=2']);
    response.setHeader('Retry-After', '3');
    response.writeHead(201, { 'Content-Type': 'application/json' }).end('{"id":"p1","status":"succeeded"}');
  },
  '/early-hints': (response) => {
    response.writeEarlyHints({ link: '</style.css>; rel=preload' });
    response.writeHead(200).end('after hints');
  },
  '/never': () => {},
};

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ method: request.method!, url: request.url!, headers: request.headers, body });
      routes[request.url!.split('?')[0]!]!(response);
    });
    response.on('close', () => closed.push(request.url!));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const send = (path: string, init: { sentBody?: string; stopSignal?: AbortSignal; timeoutMs?: number } = {}, method = 'POST') =>
  transport(new Request(`${base}${path}`, { method, headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' } }), { timeoutMs: 5_000, ...init });

test('sends the method, path with query, headers and body, and answers with status, headers and body', async () => {
  const response = await send('/json?created_after=2026-01-01', { sentBody: '{"input":{"prompt":"kite"}}' });
  expect(seen.at(-1)).toMatchObject({ method: 'POST', url: '/json?created_after=2026-01-01', body: '{"input":{"prompt":"kite"}}' });
  expect(seen.at(-1)!.headers).toMatchObject({ authorization: 'Bearer t', 'content-type': 'application/json' });
  expect([response.status, response.ok, response.statusText]).toEqual([201, true, 'Created']);
  expect(response.headers.get('retry-after')).toBe('3');
  expect(response.headers.get('set-cookie')).toBe('a=1, b=2');
  expect(await response.json()).toEqual({ id: 'p1', status: 'succeeded' });
  expect(await response.clone().text()).toBe('{"id":"p1","status":"succeeded"}');
});

test('an informational answer (103) is skipped for the final one', async () => {
  const response = await send('/early-hints', {}, 'GET');
  expect([response.status, await response.text()]).toEqual([200, 'after hints']);
});

test('an abort while waiting rejects with the signal\'s reason and closes the request', async () => {
  const stop = new AbortController();
  const pending = send('/never', { stopSignal: stop.signal });
  await new Promise((resolve) => setTimeout(resolve, 100));
  stop.abort(new Error('host stopped'));
  await expect(pending).rejects.toThrow('host stopped');
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(closed).toContain('/never');
});

test('a signal aborted before sending sends nothing', async () => {
  const before = seen.length;
  await expect(send('/json', { stopSignal: AbortSignal.abort(new Error('already stopped')) })).rejects.toThrow('already stopped');
  expect(seen.length).toBe(before);
});

test('no answer within timeoutMs is ky\'s TimeoutError, so the retry policy sees a timeout', async () => {
  const started = Date.now();
  await expect(send('/never', { timeoutMs: 300 })).rejects.toBeInstanceOf(KyTimeoutError);
  expect(Date.now() - started).toBeGreaterThanOrEqual(250);
});

test('a refused connection is fetch\'s TypeError with the network error as its cause', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const failure = await transport(new Request(`http://127.0.0.1:${port}/x`), { timeoutMs: 1_000 }).catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(TypeError);
  expect((failure as TypeError).cause).toMatchObject({ code: 'ECONNREFUSED' });
});

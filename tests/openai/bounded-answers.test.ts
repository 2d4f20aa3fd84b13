import { createServer, type ServerResponse } from 'node:http';
import { expect, test } from '@jest/globals';
import { OpenAICompatibleFluxImageBlock as block } from '../../blocks/index.js';
import { MAX_ERROR_BYTES, readAnswer } from '../../shared/openai/read-answer.js';
import { collect, errorOf, listenLocal, OPENAI_KEY, scaled } from '../helpers.js';

// A provider's answer is read with a bound: an endless or huge body ends the run with an error
// instead of taking the host's memory until the run's timeout.

test('readAnswer stops at the limit, cancels the rest and says the answer was cut', async () => {
  let canceled = false;
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++;
      controller.enqueue(new TextEncoder().encode('0123456789'));
    },
    cancel() {
      canceled = true;
    },
  });
  expect(await readAnswer(new Response(body), 25)).toEqual({ text: '0123456789012345678901234', complete: false });
  expect(canceled).toBe(true);
  expect(pulled).toBeLessThanOrEqual(4);
  expect(await readAnswer(new Response('{"ok":true}'), 25)).toEqual({ text: '{"ok":true}', complete: true });
  // An answer of exactly the limit is whole.
  expect(await readAnswer(new Response('x'.repeat(25)), 25)).toEqual({ text: 'x'.repeat(25), complete: true });
});

/** A server that answers every request with `status` and a body that never ends, counting the bytes it wrote. */
async function endless(status: number) {
  const state = { written: 0, url: '', origin: '' };
  const server = createServer((req, res: ServerResponse) => {
    req.resume();
    res.writeHead(status, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(16 << 10, 'x');
    const write = () => {
      while (!res.destroyed && res.write(chunk)) state.written += chunk.length;
      if (!res.destroyed) res.once('drain', write);
    };
    res.write('{"error": {"message": "');
    write();
  });
  state.origin = await listenLocal(server);
  state.url = `${state.origin}/v1`;
  return state;
}

test('an error answer that never ends is an error quoting its start, long before the run timeout', async () => {
  const server = await endless(500);
  const context = {
    credentials: { keys: { openai_compatible: OPENAI_KEY }, origins: { openai_compatible: [server.origin] } },
    runner: { timeoutMs: scaled(120_000) },
  };
  const credentials = { provider: 'openai_compatible', id: 'k', type: 'api_key' } as const;
  const started = Date.now();
  const message = errorOf(await collect(block, { credentials, base_url: server.url, prompt: 'x' }, context));
  expect(message).toMatch(/500/);
  expect(message).toContain('xxxx');
  expect(message.length).toBeLessThan(2_000);
  expect(Date.now() - started).toBeLessThan(scaled(60_000));
  // The reader stopped: what the server managed to write is bounded by socket buffers, not by the run.
  expect(server.written).toBeLessThan(MAX_ERROR_BYTES * 256);
});

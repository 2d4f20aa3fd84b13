import { describe, expect, test } from '@jest/globals';
import { createServer } from 'node:net';
import { ReplicateFluxAdvancedModelBlock as block } from '../../blocks/index.js';
import { startEmulator, type Emulator } from '../../emulator/index.js';
import { ERROR_KINDS, type ErrorKind } from '../../index.js';
import {
  canceledId,
  clientFor,
  collect,
  contextFor,
  creates,
  CREDENTIALS,
  errorOf,
  freshToken,
  names,
  remote,
  requestsTo,
  until,
  useEmulator,
} from '../helpers.js';

const local = useEmulator();

const input = { credentials: CREDENTIALS, prompt: 'a kite over the dunes', seed: 11 };

/** The kind of error a message is, read off the advice it ends with. */
function kindOf(message: string): ErrorKind | undefined {
  return (Object.keys(ERROR_KINDS) as ErrorKind[]).find(
    (kind) => kind !== 'invalid_input' && message.endsWith(ERROR_KINDS[kind].advice),
  );
}

/** Runs the block with its own token (rate-limit state is per token) and times it. */
async function timedRun(runner: Parameters<typeof contextFor>[1] = {}) {
  const started = Date.now();
  const outputs = await collect(block, input, contextFor(local.emulator, runner, undefined, freshToken()));
  return { outputs, ms: Date.now() - started };
}

const problem429 = { title: 'Too Many Requests', detail: 'Request was throttled.', status: 429 };

describe('429: waited out as asked, create sent again only because it was refused', () => {
  test('Retry-After in seconds on create', async () => {
    local.emulator.inject({ route: 'create', answer: { status: 429, retryAfter: '1' } });
    const { outputs, ms } = await timedRun();
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(creates(local.emulator)).toEqual({ sent: 2, created: 1 });
    expect(ms).toBeGreaterThanOrEqual(1000);
  });

  test('Retry-After as an HTTP date on create', async () => {
    const at = new Date(Math.ceil((Date.now() + 2000) / 1000) * 1000);
    local.emulator.inject({ route: 'create', answer: { status: 429, retryAfter: at.toUTCString() } });
    const { outputs } = await timedRun();
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
    expect(creates(local.emulator)).toEqual({ sent: 2, created: 1 });
  });

  test('retry_after in the 429 body when there is no header', async () => {
    local.emulator.inject({ route: 'create', answer: { status: 429, body: { ...problem429, retry_after: 1 } } });
    const { outputs, ms } = await timedRun();
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(creates(local.emulator)).toEqual({ sent: 2, created: 1 });
  });

  test('429 on a poll', async () => {
    local.plan = { processingMs: 1300 };
    local.emulator.inject({ route: 'get', answer: { status: 429, retryAfter: '1' } });
    const { outputs } = await timedRun({ waitSeconds: 1 });
    expect(names(outputs)).toEqual(['result', 'seed']);
    const polls = requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/);
    expect(polls[0]!.outcome).toBe(429);
    expect(polls.at(-1)!.outcome).toBe(200);
    expect(creates(local.emulator)).toEqual({ sent: 1, created: 1 });
  });

  test('a Retry-After beyond the timeout fails at once, naming the timeout', async () => {
    local.emulator.inject({ route: 'create', answer: { status: 429, retryAfter: '30' } });
    const { outputs, ms } = await timedRun({ timeoutMs: 3000 });
    const message = errorOf(outputs);
    expect(kindOf(message)).toBe('rate_limited');
    expect(message).toMatch(
      /^Replicate is rate limiting this API token: the next request could go out in (29|30) s, after the run's timeout of 3000 ms\./,
    );
    expect(ms).toBeLessThan(1000);
    expect(creates(local.emulator)).toEqual({ sent: 1, created: 0 });
  });

  test("the local.emulator's rate limit: 30 runs at once all succeed, each created once, the rest paced", async () => {
    const limited = await startEmulator({
      startingMs: 10,
      processingMs: 40,
      rateLimits: { createsPerMinute: 600, createBurst: 5 },
    });
    try {
      const token = freshToken();
      const started = Date.now();
      const runs = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          collect(block, { ...input, prompt: `kite number ${i}`, seed: i }, contextFor(limited, {}, undefined, token)),
        ),
      );
      const ms = Date.now() - started;
      // No cross-talk: each run's image comes from a prediction of its own input.
      for (const [i, outputs] of runs.entries()) {
        expect(names(outputs)).toEqual(['result', 'seed']);
        expect(outputs[1]![1]).toBe(i);
        const id = /\/files\/([a-z2-7]+)\//.exec(outputs[0]![1] as string)![1]!;
        expect((await remote(limited, id)).input).toMatchObject({ prompt: `kite number ${i}`, seed: i });
      }
      const made = limited.requests.filter((r) => r.method === 'POST' && r.outcome === 201);
      expect(made.map((r) => (r.body as { input: { prompt: string } }).input.prompt).sort()).toEqual(
        Array.from({ length: 30 }, (_, i) => `kite number ${i}`).sort(),
      );
      // 25 creates wait for the bucket (10 per second) after the 1 s Retry-After.
      expect(ms).toBeGreaterThanOrEqual(2400);
      // Pacing: the limit was met, and after a 429 the gate holds the token's runs back, so no
      // run meets a second one. How many met the first depends on how spread out the runs'
      // starts were (the bucket refills while a loaded machine validates their input).
      expect(limited.throttled).toBeGreaterThanOrEqual(1);
      expect(limited.throttled).toBeLessThanOrEqual(30);
    } finally {
      await limited.close();
    }
  });
});

describe('5xx', () => {
  test('polls are retried on 500, 502, 503 and 504 with backoff', async () => {
    local.plan = { processingMs: 1300 };
    for (const status of [500, 502, 503, 504]) local.emulator.inject({ route: 'get', answer: { status } });
    const { outputs } = await timedRun({ waitSeconds: 1 });
    expect(names(outputs)).toEqual(['result', 'seed']);
    const outcomes = requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/).map((r) => r.outcome);
    expect(outcomes.slice(0, 5)).toEqual([500, 502, 503, 504, 200]);
  });

  test('a poll that keeps failing ends after 4 retries, and the prediction is canceled', async () => {
    local.plan = { processingMs: 20_000 };
    local.emulator.inject({ route: 'get', answer: { status: 502 }, times: 100 });
    const { outputs } = await timedRun({ waitSeconds: 1 });
    const message = errorOf(outputs);
    expect(kindOf(message)).toBe('api_error');
    expect(message).toMatch(
      /^Replicate API error 502 Bad Gateway: Injected fault: status 502; prediction [a-z2-7]+ was canceled\./,
    );
    expect(requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/)).toHaveLength(5);
    local.emulator.clearFaults();
    expect((await remote(local.emulator, canceledId(message))).status).toBe('canceled');
  });

  test('a 500 on create is not sent again; nothing was created, so nothing is canceled', async () => {
    local.emulator.inject({ route: 'create', answer: { status: 500 } });
    const message = errorOf((await timedRun()).outputs);
    expect(kindOf(message)).toBe('api_error');
    expect(message).toMatch(
      /^Replicate API error 500 Internal Server Error: Injected fault: status 500; no running prediction was found to cancel\./,
    );
    expect(creates(local.emulator)).toEqual({ sent: 1, created: 0 });
    expect(requestsTo(local.emulator, 'POST', /\/cancel$/)).toHaveLength(0);
  });

  test('a 503 after the prediction was created: not sent again, and the prediction is found and canceled', async () => {
    local.plan = { processingMs: 20_000 };
    local.emulator.inject({ route: 'create', answer: { status: 503 }, afterHandling: true });
    const message = errorOf((await timedRun({ waitSeconds: 1 })).outputs);
    expect(message).toMatch(
      /^Replicate API error 503 Service Unavailable: Injected fault: status 503; prediction [a-z2-7]+ was canceled\./,
    );
    expect(creates(local.emulator).sent).toBe(1);
    expect(requestsTo(local.emulator, 'GET', /^\/v1\/predictions\?created_after=/)).toHaveLength(1);
    expect((await remote(local.emulator, canceledId(message))).status).toBe('canceled');
  });
});

describe('connections', () => {
  test('a reset on create is not sent again', async () => {
    local.emulator.inject({ route: 'create', answer: 'reset' });
    const message = errorOf((await timedRun()).outputs);
    expect(kindOf(message)).toBe('unreachable');
    expect(message).toMatch(
      /^The connection to the Replicate API at http:\/\/127\.0\.0\.1:\d+\/v1 failed: (ECONNRESET|UND_ERR_SOCKET) \(connection (reset|closed by the server)\); no running prediction was found to cancel\./,
    );
    expect(creates(local.emulator).sent).toBe(1);
  });

  test('a reset after the prediction was created: it is found and canceled', async () => {
    local.plan = { processingMs: 20_000 };
    local.emulator.inject({ route: 'create', answer: 'reset', afterHandling: true });
    const message = errorOf((await timedRun({ waitSeconds: 1 })).outputs);
    expect(kindOf(message)).toBe('unreachable');
    expect(creates(local.emulator).sent).toBe(1);
    expect((await remote(local.emulator, canceledId(message))).status).toBe('canceled');
  });

  test('a reset on a poll is retried', async () => {
    local.plan = { processingMs: 1300 };
    local.emulator.inject({ route: 'get', answer: 'reset' });
    const { outputs } = await timedRun({ waitSeconds: 1 });
    expect(names(outputs)).toEqual(['result', 'seed']);
    expect(requestsTo(local.emulator, 'GET', /^\/v1\/predictions\/[a-z2-7]+$/)[0]!.outcome).toBe('reset');
  });

  test('a refused connection on create is retried until the server is up', async () => {
    // Take a free port, free it, and start the local.emulator on it a moment after the run began.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const late = new Promise<Emulator>((resolve) =>
      setTimeout(() => resolve(startEmulator({ port, startingMs: 10, processingMs: 40 })), 150),
    );
    const outputs = await collect(block, input, {
      ...contextFor(local.emulator),
      runner: { baseUrl: `http://127.0.0.1:${port}/v1` },
    });
    const server = await late;
    try {
      expect(names(outputs)).toEqual(['result', 'seed']);
      expect(creates(server)).toEqual({ sent: 1, created: 1 });
    } finally {
      await server.close();
    }
  });

  test('a server that never comes up: the error names the address and the cause', async () => {
    const closed = await startEmulator();
    await closed.close();
    const message = errorOf(await collect(block, input, contextFor(closed)));
    expect(message).toBe(
      `The Replicate API at ${closed.url} was not reached: ECONNREFUSED (connection refused); nothing was sent to it. ${ERROR_KINDS.unreachable.advice}`,
    );
  });
});

describe('answers that are not predictions', () => {
  test('malformed JSON on create names the status and content type; the prediction it may have made is canceled', async () => {
    local.plan = { processingMs: 20_000 };
    local.emulator.inject({ route: 'create', answer: 'malformed', afterHandling: true });
    const message = errorOf((await timedRun({ waitSeconds: 1 })).outputs);
    expect(kindOf(message)).toBe('bad_response');
    expect(message).toMatch(
      /^The Replicate API at \S+ answered 200 \(application\/json\) with something that is not JSON; prediction [a-z2-7]+ was canceled\./,
    );
    expect((await remote(local.emulator, canceledId(message))).status).toBe('canceled');
  });

  test('malformed JSON on a poll', async () => {
    local.plan = { processingMs: 20_000 };
    local.emulator.inject({ route: 'get', answer: 'malformed' });
    const message = errorOf((await timedRun({ waitSeconds: 1 })).outputs);
    expect(message).toMatch(
      /answered 200 \(application\/json\) with something that is not JSON; prediction [a-z2-7]+ was canceled\./,
    );
    expect((await remote(local.emulator, canceledId(message))).status).toBe('canceled');
  });

  test('an HTML page, and JSON that is not a prediction', async () => {
    local.emulator.inject({ route: 'create', answer: { status: 200, body: '<html>Sign in</html>' } });
    local.emulator.inject({ route: 'create', answer: { status: 200, body: { hello: 'world' } } });
    const html = errorOf((await timedRun()).outputs);
    const other = errorOf((await timedRun()).outputs);
    expect(html).toMatch(/answered 200 \(text\/html\) with something that is not JSON/);
    expect(other).toMatch(
      /answered 200 \(application\/json\) with JSON that is not a prediction \(id: is required; status: is required\)/,
    );
    expect(kindOf(other)).toBe('bad_response');
  });
});

describe('HTTP errors a person can act on', () => {
  test('401 and 403: check the token', async () => {
    const strict = await startEmulator({ token: 'the-only-valid-token' });
    try {
      const message = errorOf(await collect(block, input, contextFor(strict)));
      expect(message).toBe(
        `Replicate API error 401 Unauthenticated: You did not pass a valid authentication token. ${ERROR_KINDS.unauthorized.advice}`,
      );
    } finally {
      await strict.close();
    }
    local.emulator.inject({
      route: 'create',
      answer: {
        status: 403,
        body: { title: 'Forbidden', detail: 'You do not have permission to run this model', status: 403 },
      },
    });
    expect(kindOf(errorOf((await timedRun()).outputs))).toBe('unauthorized');
  });

  test('404: check the model and the base URL', async () => {
    const run = clientFor(local.emulator).run({ model: 'black-forest-labs/flux-nope', input: { prompt: 'x' } });
    await expect(run).rejects.toMatchObject({
      kind: 'not_found',
      detail: 'Replicate API error 404 Not found: Model black-forest-labs/flux-nope was not found',
    });
  });

  test('422: every invalid field Replicate names', async () => {
    const run = clientFor(local.emulator).run({
      model: 'black-forest-labs/flux-pro',
      input: { prompt: 'x', guidance: 99, steps: 0 },
    });
    await expect(run).rejects.toMatchObject({
      kind: 'rejected_input',
      detail:
        'Replicate API error 422 Input validation failed: guidance: Must be less than or equal to 5; steps: Must be greater than or equal to 1',
    });
  });
});

describe('how predictions end', () => {
  test("failed, with Replicate's error text", async () => {
    local.plan = { outcome: 'failed', error: 'CUDA out of memory' };
    const message = errorOf((await timedRun()).outputs);
    expect(message).toMatch(/^Prediction [a-z2-7]+ failed: CUDA out of memory\./);
    expect(kindOf(message)).toBe('model_failed');
  });

  test.each<[string, string | null]>([
    ['an empty error text', ''],
    ['a null error', null],
  ])("failed with %s: no reason given, and the prediction's web page named", async (_, error) => {
    local.plan = { outcome: 'failed', error };
    const { outputs } = await timedRun();
    const message = errorOf(outputs);
    expect(message).toMatch(
      /^Prediction ([a-z2-7]+) failed, and Replicate gave no reason; its page may say more: http:\/\/127\.0\.0\.1:\d+\/p\/\1\./,
    );
    expect(kindOf(message)).toBe('model_failed');
    // Not retried: one create.
    expect(creates(local.emulator).sent).toBe(1);
  });

  test('failed by the safety filter', async () => {
    local.plan = {
      outcome: 'failed',
      error: 'NSFW content detected. Try running it again, or try a different prompt.',
    };
    const message = errorOf((await timedRun()).outputs);
    expect(kindOf(message)).toBe('safety_filter');
  });

  test('canceled by someone else', async () => {
    local.plan = { outcome: 'canceled' };
    const message = errorOf((await timedRun()).outputs);
    expect(message).toMatch(/^Prediction [a-z2-7]+ was canceled before it finished\./);
    expect(kindOf(message)).toBe('canceled');
  });

  test('aborted: the Cancel-After deadline passed while it was queued', async () => {
    local.plan = { startingMs: 5000, deadlineMs: 300 };
    const { outputs, ms } = await timedRun({ waitSeconds: 1 });
    const message = errorOf(outputs);
    expect(message).toMatch(
      /^Prediction [a-z2-7]+ was aborted before it started: its deadline passed while it was queued\./,
    );
    expect(kindOf(message)).toBe('aborted');
    expect(ms).toBeLessThan(2000);
    expect(local.emulator.requests[0]!.headers['cancel-after']).toBe('600s');
  });

  test('output already deleted after the retention time', async () => {
    local.plan = { retentionMs: 0 };
    const message = errorOf((await timedRun()).outputs);
    expect(message).toMatch(/^Prediction [a-z2-7]+ succeeded, but its output was already deleted\./);
    expect(kindOf(message)).toBe('output_deleted');
  });

  test('after the retention time the prediction shows data_removed and its files answer 404', async () => {
    // Long enough for the file to be read before it goes, on a busy machine too.
    local.plan = { retentionMs: 1_000 };
    const prediction = await clientFor(local.emulator).run({
      model: 'black-forest-labs/flux-schnell',
      input: { prompt: 'x' },
    });
    const [url] = prediction.output as string[];
    expect((await fetch(url!)).status).toBe(200);
    await until(async () => (await remote(local.emulator, prediction.id)).data_removed);
    expect(await remote(local.emulator, prediction.id)).toMatchObject({
      status: 'succeeded',
      data_removed: true,
      output: null,
    });
    expect((await fetch(url!)).status).toBe(404);
  });
});

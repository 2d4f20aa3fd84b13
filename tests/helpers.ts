import {
  spawn,
  type ChildProcess,
  type ChildProcessWithoutNullStreams,
  type SpawnOptionsWithoutStdio,
} from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from '@jest/globals';
import { Ajv, type Options as AjvOptions } from 'ajv';
import { startEmulator, type Emulator, type EmulatorOptions, type PredictionPlan } from '../emulator/index.js';
import {
  createReplicateClient,
  createWebhookReceiver,
  runBlock,
  type ListeningReceiver,
  type Block,
  type BlockContext,
  type ReplicateClient,
  type ReplicateClientOptions,
  type RunnerOptions,
  type WebhookReceiver,
} from '../index.js';
import { EXAMPLE_IMAGE } from '../shared/framework/block.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The credentials field as a host fills it. */
export const CREDENTIALS = { provider: 'replicate', id: 'test-credentials', type: 'api_key' } as const;

/** A token long enough to be redacted, so tests can check it never leaks. */
export const TOKEN = 'r8_test_token_0123456789abcdefghijklmnopqrstu';

/** Fast emulator timings for tests, in ms. */
export const FAST: EmulatorOptions = { startingMs: 10, processingMs: 40 };

/**
 * How much slower than an idle 2-core machine this one may be: `TEST_TIME_SCALE` (default 1).
 * Every deadline in the suite (jest's test timeout, a test's own, a browser wait) is multiplied by it.
 */
export const TIME_SCALE = Number(process.env.TEST_TIME_SCALE) > 0 ? Number(process.env.TEST_TIME_SCALE) : 1;

/** A deadline of `ms` on an idle machine, in ms, raised by {@link TIME_SCALE}. */
export const scaled = (ms: number): number => Math.round(ms * TIME_SCALE);

// Counts the tests and hooks that have ended in this file: an `until` outliving its test (one that
// timed out) stops polling instead of keeping jest alive.
let ended = 0;
afterEach(() => void ended++);
afterAll(() => void ended++);

const stops: Array<() => unknown> = [];
// Stops what this test file owns, newest first, after all its tests (this module is loaded once per file).
afterAll(async () => {
  for (let stop = stops.pop(); stop; stop = stops.pop()) await stop();
}, scaled(60_000));

/**
 * Takes what `starting` starts (a server, a child process, a browser, a Redis) into this test file's
 * ownership: once it has started, `stop` stops it after all the file's tests, newest first, even when
 * the hook that awaited it failed or timed out. Call it before awaiting, e.g.
 * `redis = await own(startRedis(), (r) => r.stop())`. A start that fails stops what it began itself.
 */
export function own<T>(starting: Promise<T>, stop: (started: T) => unknown): Promise<T> {
  stops.push(async () => {
    const started = await starting.then(
      (value) => ({ value }),
      () => undefined,
    );
    if (started) await stop(started.value);
  });
  return starting;
}

/** Kills `child` (SIGKILL) unless it has exited, and waits until its streams are closed. */
export async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = once(child, 'close');
  child.kill('SIGKILL');
  await closed;
}

/**
 * `child_process.spawn` (pipes on all three streams), the child owned by this test file: one still
 * running after all its tests (say, of a test that timed out) is killed, so nothing outlives the suite.
 */
export function spawnOwned(
  command: string,
  args: readonly string[],
  options: SpawnOptionsWithoutStdio = {},
): ChildProcessWithoutNullStreams {
  const child = spawn(command, args, options);
  void own(Promise.resolve(child), killed);
  return child;
}

/**
 * Waits until `check` returns a value other than `undefined`, `false` or `null`, polling every
 * `everyMs` (default 20 ms); returns that value. Without a deadline of its own: the test's timeout
 * bounds it, so a slow machine only takes longer. Rejects once the test or hook that called it has
 * ended (it timed out), so the polling never outlives it.
 */
export async function until<T>(
  check: () => T | Promise<T>,
  everyMs = 20,
): Promise<Exclude<T, undefined | false | null>> {
  const started = ended;
  for (;;) {
    if (ended !== started) throw new Error('until: the test or hook waiting on this has ended (timed out?)');
    const value = await check();
    if (value !== undefined && value !== false && value !== null) return value as Exclude<T, undefined | false | null>;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/**
 * An abort signal that fires (with `reason`) as soon as `condition` holds, checked every 5 ms: a test
 * stops a run in the state it means to stop it in, however slow the machine. `abortedAt` is when it
 * fired (epoch ms). The checks stop once it fired, and never keep the process alive.
 */
export function abortWhen(
  condition: () => boolean | Promise<boolean>,
  reason?: unknown,
): { readonly signal: AbortSignal; abortedAt(): number | undefined } {
  const controller = new AbortController();
  let at: number | undefined;
  const check = async () => {
    if (!(await condition())) return void setTimeout(check, 5).unref();
    at = Date.now();
    controller.abort(reason);
  };
  void check();
  return { signal: controller.signal, abortedAt: () => at };
}

/**
 * An {@link abortWhen} signal that fires once `emulator` has made a prediction more than it had when
 * this was called: the run it is given to has created its prediction (its answer may be still to come).
 */
export function abortOnceCreated(emulator: Emulator, reason?: unknown): ReturnType<typeof abortWhen> {
  const before = emulator.created;
  return abortWhen(() => emulator.created > before, reason);
}

/**
 * Gives a test file its own emulator: started before all tests; before each, its request log
 * and faults are cleared and `plan` is reset to `{}`; closed after all, even when its start timed out.
 * Inside tests read `handle.emulator`, and set `handle.plan` to script the predictions the test creates.
 */
export function useEmulator(options: EmulatorOptions = FAST): { readonly emulator: Emulator; plan: PredictionPlan } {
  const handle = { plan: {} } as { emulator: Emulator; plan: PredictionPlan };
  beforeAll(async () => {
    handle.emulator = await own(startEmulator({ plan: () => handle.plan, ...options }), (emulator) => emulator.close());
  });
  beforeEach(() => {
    handle.emulator.requests.splice(0);
    handle.emulator.clearFaults();
    handle.plan = {};
  });
  return handle;
}

/**
 * Gives a test file a webhook receiver listening on 127.0.0.1 (a free port), started before all
 * tests and closed after all. `webhook` is the client option that sends its runs' webhooks to it.
 */
export function useWebhookReceiver(): {
  readonly receiver: WebhookReceiver;
  readonly server: ListeningReceiver;
  readonly webhook: { url: string; receiver: WebhookReceiver };
} {
  const handle = {} as { receiver: WebhookReceiver; server: ListeningReceiver };
  beforeAll(async () => {
    handle.receiver = createWebhookReceiver();
    handle.server = await own(handle.receiver.listen(0), (server) => server.close());
  });
  return {
    get receiver() {
      return handle.receiver;
    },
    get server() {
      return handle.server;
    },
    get webhook() {
      return { url: handle.server.url, receiver: handle.receiver };
    },
  };
}

/** Runs a block and collects its outputs. */
export async function collect(
  block: Block,
  input: unknown,
  context: BlockContext,
): Promise<Array<readonly [string, unknown]>> {
  const outputs: Array<readonly [string, unknown]> = [];
  for await (const output of runBlock(block, input, context)) outputs.push(output);
  return outputs;
}

/** Output names in order. */
export const names = (outputs: Array<readonly [string, unknown]>) => outputs.map(([name]) => name);

/** The message of the one `error` output; fails unless the outputs are exactly that. */
export function errorOf(outputs: Array<readonly [string, unknown]>): string {
  expect(names(outputs)).toEqual(['error']);
  return outputs[0]![1] as string;
}

/** A prediction's state on the emulator, read through the API. */
export async function remote(emulator: Emulator, id: string): Promise<RemotePrediction> {
  const response = await fetch(`${emulator.url}/predictions/${id}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  return (await response.json()) as RemotePrediction;
}

interface RemotePrediction {
  readonly status: string;
  readonly input: Record<string, unknown>;
  readonly data_removed: boolean;
  readonly output: unknown;
}

/** The prediction id an error message names as canceled, e.g. `...; prediction abc was canceled. ...`. */
export function canceledId(message: string): string {
  const id = /; prediction ([a-z2-7]+) was canceled\./.exec(message)?.[1];
  expect(id).toBeDefined();
  return id!;
}

/** A key of the OpenAI-compatible provider, long enough to be redacted. */
export const OPENAI_KEY = 'sk-test-openai-compatible-0123456789abcdef';

/**
 * A context that reaches `emulator` with {@link TOKEN} (and {@link OPENAI_KEY} for its OpenAI-style
 * routes, its origin listed as the one that key may go to).
 */
export function contextFor(
  emulator: Emulator,
  runner: RunnerOptions = {},
  signal?: AbortSignal,
  token = TOKEN,
): BlockContext {
  return {
    credentials: {
      apiKey: token,
      keys: { openai_compatible: OPENAI_KEY },
      origins: { openai_compatible: [new URL(emulator.url).origin] },
    },
    signal,
    runner: { baseUrl: emulator.url, pollIntervalMs: 20, ...runner },
  };
}

/** A Replicate client that reaches `emulator` with {@link TOKEN}, polling every 20 ms. */
export function clientFor(emulator: Emulator, options: Partial<ReplicateClientOptions> = {}): ReplicateClient {
  return createReplicateClient({ token: TOKEN, baseUrl: emulator.url, pollIntervalMs: 20, ...options });
}

let tokens = 0;
/**
 * A token no other test used. Rate-limit state is shared per token process-wide (as Replicate
 * keeps it per account), so tests that meet 429s take their own.
 */
export function freshToken(): string {
  tokens += 1;
  return `${TOKEN}-${process.pid}-${tokens}`;
}

/** Prediction creates the emulator received, and how many predictions they made (not 429, not refused). */
export function creates(emulator: Emulator): { sent: number; created: number } {
  const all = emulator.requests.filter(
    (r) => r.method === 'POST' && /^\/v1\/(models\/[^/]+\/[^/]+\/)?predictions$/.test(r.path),
  );
  return { sent: all.length, created: all.filter((r) => r.handledAs !== undefined && r.handledAs < 300).length };
}

/** Requests whose method and path match, e.g. `POST /v1/predictions/.../cancel`. */
export function requestsTo(emulator: Emulator, method: string, path: RegExp) {
  return emulator.requests.filter((r) => r.method === method && path.test(r.path));
}

/**
 * Reads a fact file from `tests/fixtures/` (Replicate's OpenAPI spec, the Flux model facts;
 * `tests/fixtures/README.md` names their sources).
 */
export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', name), 'utf8')) as T;
}

/** A request as the test proxy sees it. */
export interface ProxiedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** What a test proxy answers instead of forwarding; a string body is sent as it is (as HTML). */
export interface ProxyAnswer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

/**
 * Listens with `server` on a free port of 127.0.0.1, owned by the test file (its connections closed
 * and the server stopped after its tests); returns its origin, `http://127.0.0.1:PORT`.
 */
export async function listenLocal(server: Server): Promise<string> {
  await own(
    new Promise<Server>((resolve) => server.listen(0, '127.0.0.1', () => resolve(server))),
    (started) =>
      new Promise((resolve) => {
        started.closeAllConnections();
        started.close(resolve);
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A Replicate-compatible proxy on 127.0.0.1 that serves the API under `/replicate/v1` and
 * forwards to `emulator`, unless `intercept` answers a request itself (to inject faults).
 */
export async function startProxy(
  emulator: Emulator,
  intercept: (request: ProxiedRequest) => ProxyAnswer | undefined = () => undefined,
) {
  const seen: ProxiedRequest[] = [];
  const target = emulator.url.replace(/\/v1$/, '');
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = {
      method: req.method!,
      path: req.url!,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    };
    seen.push(request);
    const answer = intercept(request);
    if (answer) {
      const raw = typeof answer.body === 'string';
      res.writeHead(answer.status, {
        'Content-Type': raw ? 'text/html' : 'application/problem+json',
        ...answer.headers,
      });
      res.end(raw ? answer.body : JSON.stringify(answer.body));
      return;
    }
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type', 'prefer', 'cancel-after']) {
      if (typeof req.headers[name] === 'string') headers[name] = req.headers[name];
    }
    const response = await fetch(target + req.url!.replace(/^\/replicate\/v1/, '/v1'), {
      method: req.method,
      headers,
      body: request.body || undefined,
    });
    res.writeHead(response.status, { 'Content-Type': response.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/replicate/v1`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ajv-formats is CommonJS whose typings describe only its `default`; require gives the plugin itself.
const addFormats = createRequire(import.meta.url)('ajv-formats') as (ajv: Ajv) => Ajv;

/** An Ajv (draft-07) that checks `format`s such as `uri` and `date-time`. */
export function newAjv(options: AjvOptions = {}): Ajv {
  return addFormats(new Ajv({ allErrors: true, ...options }));
}

/**
 * Save Image nodes that fan out (issue 26): `l0` stores a `data:` URI image; below it `levels`
 * levels of `width` nodes `l{level}-{i}`, each with its `image` linked from the `data_uri` of every
 * node of the level above. Node runs: 1 + width + width² + ... + width^levels (6 levels of 10:
 * 1,111,111), none of which waits on I/O.
 */
export function fanOutGraph(levels: number, width: number) {
  const save = (id: string, input: Record<string, unknown> = {}) => ({
    id,
    block_id: 'SaveImageBlock',
    input_default: { store_as: 'data_uri', ...input },
  });
  const nodes = [save('l0', { image: EXAMPLE_IMAGE })];
  const links: Array<{ source_id: string; source_name: string; sink_id: string; sink_name: string }> = [];
  let above = ['l0'];
  for (let level = 1; level <= levels; level++) {
    const ids = Array.from({ length: width }, (_, i) => `l${level}-${i}`);
    for (const id of ids) {
      nodes.push(save(id));
      for (const source of above)
        links.push({ source_id: source, source_name: 'data_uri', sink_id: id, sink_name: 'image' });
    }
    above = ids;
  }
  return { nodes, links };
}

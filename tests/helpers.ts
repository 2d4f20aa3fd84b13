import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, expect } from '@jest/globals';
import { Ajv, type Options as AjvOptions } from 'ajv';
import { startEmulator, type Emulator, type EmulatorOptions, type PredictionPlan } from '../emulator/index.js';
import { createReplicateClient, runBlock, type Block, type BlockContext, type ReplicateClient, type ReplicateClientOptions, type RunnerOptions } from '../index.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The credentials field as a host fills it. */
export const CREDENTIALS = { provider: 'replicate', id: 'test-credentials', type: 'api_key' } as const;

/** A token long enough to be redacted, so tests can check it never leaks. */
export const TOKEN = 'r8_test_token_0123456789abcdefghijklmnopqrstu';

/** Fast emulator timings for tests, in ms. */
export const FAST: EmulatorOptions = { startingMs: 10, processingMs: 40 };

/**
 * Gives a test file its own emulator: started before all tests; before each, its request log
 * and faults are cleared and `plan` is reset to `{}`; closed after all. Inside tests read
 * `handle.emulator`, and set `handle.plan` to script the predictions the test creates.
 */
export function useEmulator(options: EmulatorOptions = FAST): { readonly emulator: Emulator; plan: PredictionPlan } {
  const handle = { plan: {} } as { emulator: Emulator; plan: PredictionPlan };
  beforeAll(async () => {
    handle.emulator = await startEmulator({ plan: () => handle.plan, ...options });
  });
  beforeEach(() => {
    handle.emulator.requests.splice(0);
    handle.emulator.clearFaults();
    handle.plan = {};
  });
  afterAll(() => handle.emulator.close());
  return handle;
}

/** Runs a block and collects its outputs. */
export async function collect(block: Block, input: unknown, context: BlockContext): Promise<Array<readonly [string, unknown]>> {
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

/** A context that reaches `emulator` with {@link TOKEN} (and {@link OPENAI_KEY} for its OpenAI-style routes). */
export function contextFor(emulator: Emulator, runner: RunnerOptions = {}, signal?: AbortSignal, token = TOKEN): BlockContext {
  return { credentials: { apiKey: token, keys: { openai_compatible: OPENAI_KEY } }, signal, runner: { baseUrl: emulator.url, pollIntervalMs: 20, ...runner } };
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
  const all = emulator.requests.filter((r) => r.method === 'POST' && /^\/v1\/(models\/[^/]+\/[^/]+\/)?predictions$/.test(r.path));
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
 * A Replicate-compatible proxy on 127.0.0.1 that serves the API under `/replicate/v1` and
 * forwards to `emulator`, unless `intercept` answers a request itself (to inject faults).
 */
export async function startProxy(emulator: Emulator, intercept: (request: ProxiedRequest) => ProxyAnswer | undefined = () => undefined) {
  const seen: ProxiedRequest[] = [];
  const target = emulator.url.replace(/\/v1$/, '');
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = { method: req.method!, path: req.url!, headers: req.headers, body: Buffer.concat(chunks).toString() };
    seen.push(request);
    const answer = intercept(request);
    if (answer) {
      const raw = typeof answer.body === 'string';
      res.writeHead(answer.status, { 'Content-Type': raw ? 'text/html' : 'application/problem+json', ...answer.headers });
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
    close: () => new Promise<void>((resolve) => {
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

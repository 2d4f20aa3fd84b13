import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { startStudio } from '../../hosts/studio/server/index.js';
import {
  MAX_MODEL_HITS,
  MAX_MODEL_QUERY_CHARS,
  type ModelForm,
  type ModelHits,
  type RunEvent,
  type Upload,
} from '../../hosts/studio/protocol.js';
import { own, requestsTo, startProxy, TOKEN, useEmulator } from '../helpers.js';

// Issue 28: the studio's model search and model forms over real HTTP, on the emulator.
const handle = useEmulator();
let base: string;
let cookie: string;
const SESSION = 'studio-models-session-token';

/** Starts a studio on `baseUrl` (stopped after all tests) and signs in: its base URL and cookie. */
async function signedIn(baseUrl: string): Promise<{ base: string; cookie: string }> {
  const out = await own(mkdtemp(join(tmpdir(), 'studio-models-')), (made) =>
    rm(made, { recursive: true, force: true }),
  );
  const started = await own(
    startStudio({ port: 0, baseUrl, out, token: SESSION, env: { REPLICATE_API_TOKEN: TOKEN } }),
    (s) => s.close(),
  );
  const url = `http://127.0.0.1:${started.port}`;
  const answer = await fetch(`${url}/?token=${SESSION}`, { redirect: 'manual' });
  return { base: url, cookie: answer.headers.get('set-cookie')!.split(';')[0]! };
}

beforeAll(async () => {
  ({ base, cookie } = await signedIn(handle.emulator.url));
});

/** A request with the session cookie and our own Origin. */
function api(path: string, init: RequestInit = {}, to = { base, cookie }) {
  return fetch(to.base + path, {
    ...init,
    headers: { Cookie: to.cookie, Origin: to.base, 'Content-Type': 'application/json', ...init.headers },
  });
}

/** Requests the emulator got from a search (GET /v1/search, QUERY /v1/models) or a model lookup. */
const lookups = () => handle.emulator.requests.filter((r) => /^\/v1\/(search|models)/.test(r.path));

describe('studio model search and forms (issue 28)', () => {
  test('GET /api/models?query=flux lists the models found, each with its name, description and run count', async () => {
    const answer = await api('/api/models?query=flux&limit=3');
    expect(answer.status).toBe(200);
    const { hits } = (await answer.json()) as ModelHits;
    expect(hits).toHaveLength(3);
    for (const hit of hits) {
      expect(hit.model).toMatch(/^[\w.-]+\/[\w.-]*flux[\w.-]*$/);
      expect(typeof hit.description).toBe('string');
      expect(hit.runCount).toEqual(expect.any(Number));
    }
    expect(requestsTo(handle.emulator, 'GET', /^\/v1\/search\?query=flux&limit=3$/)).toHaveLength(1);
  });

  test('no query, a long one, or a limit out of range is refused with the reason, before any request to Replicate', async () => {
    const refusals: Array<[string, RegExp]> = [
      ['/api/models', /^query: give the words to search for/],
      ['/api/models?query=%20%20', /^query: give the words to search for/],
      [
        `/api/models?query=${'a'.repeat(MAX_MODEL_QUERY_CHARS + 1)}`,
        new RegExp(
          `^query: ${MAX_MODEL_QUERY_CHARS + 1} characters is over the studio's ${MAX_MODEL_QUERY_CHARS}-character limit`,
        ),
      ],
      ['/api/models?query=flux&limit=0', new RegExp(`^limit: must be a whole number from 1 to ${MAX_MODEL_HITS}$`)],
      [`/api/models?query=flux&limit=${MAX_MODEL_HITS + 1}`, /^limit: must be a whole number/],
      ['/api/models/black-forest-labs/flux%20schnell', /^model: must be owner\/name/],
    ];
    for (const [path, reason] of refusals) {
      const answer = await api(path);
      expect([path, answer.status]).toEqual([path, 400]);
      expect(((await answer.json()) as { error: string }).error).toMatch(reason);
    }
    expect(lookups()).toEqual([]);
  });

  test("GET /api/models/{owner}/{name} gives the latest version's Input schema with enums inlined, ranges kept, image inputs found", async () => {
    const answer = await api('/api/models/black-forest-labs/flux-dev');
    expect(answer.status).toBe(200);
    const form = (await answer.json()) as ModelForm;
    expect(form).toMatchObject({
      model: 'black-forest-labs/flux-dev',
      official: true,
      version: expect.stringMatching(/^[0-9a-f]{64}$/),
      imageInputs: { image: 'one' },
    });
    const schema = form.inputSchema!;
    expect(JSON.stringify(schema)).not.toMatch(/\$ref|allOf|x-order/);
    expect(schema.required).toEqual(['prompt']);
    const properties = schema.properties as Record<string, Record<string, unknown>>;
    // In x-order, as the model's API page lists them.
    expect(Object.keys(properties).slice(0, 3)).toEqual(['prompt', 'image', 'prompt_strength']);
    expect(properties.aspect_ratio).toMatchObject({ type: 'string', enum: expect.arrayContaining(['1:1', '16:9']) });
    expect(properties.num_outputs).toMatchObject({ type: 'integer', minimum: 1, maximum: 4, default: 1 });
    expect(properties.image).toMatchObject({ type: 'string', format: 'uri' });
  });

  test('an unknown model is refused naming it (200, so the browser logs nothing); without the session cookie nothing is looked up', async () => {
    const answer = await api('/api/models/nobody-at-all/no-such-model');
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({
      error: 'No model nobody-at-all/no-such-model on Replicate: check its name, or search for it',
    });
    handle.emulator.requests.splice(0);
    expect((await fetch(`${base}/api/models?query=flux`)).status).toBe(401);
    expect((await fetch(`${base}/api/models/black-forest-labs/flux-dev`)).status).toBe(401);
    expect(lookups()).toEqual([]);
  });

  test("Replicate's failures are 502 with their message; the token never reaches the page, even when Replicate echoes it", async () => {
    const proxy = await own(
      startProxy(handle.emulator, ({ headers }) => ({
        status: 403,
        body: { title: 'Forbidden', detail: `upstream saw ${String(headers.authorization)}` },
      })),
      (started) => started.close(),
    );
    const echoing = await signedIn(proxy.url);
    for (const path of ['/api/models?query=flux', '/api/models/black-forest-labs/flux-dev']) {
      const answer = await api(path, {}, echoing);
      const text = await answer.text();
      expect([path, answer.status]).toEqual([path, 502]);
      expect(text).toMatch(/upstream saw/);
      expect(text).not.toContain(TOKEN);
    }
    const pages = [
      await (await api('/api/models?query=flux')).text(),
      await (await api('/api/models/black-forest-labs/flux-dev')).text(),
    ];
    for (const page of pages) expect(page).not.toContain(TOKEN);
  });

  test("a run whose input the model's schema refuses fails its node naming the field, and creates no prediction", async () => {
    const before = handle.emulator.created;
    const graph = {
      nodes: [
        {
          id: 'any',
          block_id: 'ReplicateModelBlock',
          input_default: { model: 'black-forest-labs/flux-schnell', input: { prompt: 'a fox', num_outputs: 7 } },
        },
      ],
      links: [],
    };
    const started = await api('/api/runs', { method: 'POST', body: JSON.stringify(graph) });
    const { id } = (await started.json()) as { id: string };
    const events = (await (await api(`/api/runs/${id}/events`)).text())
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as RunEvent);
    expect(events.find((e) => e.type === 'node' && e.status === 'failed')).toMatchObject({
      node: 'any',
      message: expect.stringMatching(/refuses this input: input\.num_outputs: must be <= 4/),
    });
    expect(handle.emulator.created).toBe(before);
  });

  test("an image sent from the page into a model's input form reaches the model as an image, not a path", async () => {
    const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#c63' } })
      .png()
      .toBuffer();
    const sent = await api('/api/uploads', { method: 'POST', body: png, headers: { 'Content-Type': 'image/png' } });
    expect(sent.status).toBe(201);
    const { path } = (await sent.json()) as Upload;
    const graph = {
      nodes: [
        {
          id: 'any',
          block_id: 'ReplicateModelBlock',
          input_default: { model: 'black-forest-labs/flux-dev', input: { prompt: 'a fox', image: path } },
        },
      ],
      links: [],
    };
    const started = await api('/api/runs', { method: 'POST', body: JSON.stringify(graph) });
    expect(started.status).toBe(201);
    const { id } = (await started.json()) as { id: string };
    const text = await (await api(`/api/runs/${id}/events`)).text();
    const done = text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as RunEvent)
      .at(-1);
    expect(done).toMatchObject({ type: 'done', status: 'succeeded' });
    const [create] = requestsTo(handle.emulator, 'POST', /^\/v1\/models\/black-forest-labs\/flux-dev\/predictions$/);
    expect(String((create!.body as { input: { image: string } }).input.image)).toMatch(/^data:image\/png;base64,/);
  });
});

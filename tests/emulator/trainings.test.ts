import { createServer, type IncomingMessage } from 'node:http';
import { beforeAll, describe, expect, test } from '@jest/globals';
import { validateWebhook } from '../../index.js';
import { fixture, own, TOKEN, until, useEmulator } from '../helpers.js';

// The emulator's trainings: webhook deliveries, the trained version listed, the weights served and
// checked when a prediction loads them.
const local = useEmulator({ startingMs: 10, processingMs: 40, trainingMs: 1_200 });
const TRAINER = 'ostris/flux-dev-lora-trainer';
const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };

/** Deliveries a plain local server got, with their raw headers and bodies. */
const received: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
let hookUrl = '';
beforeAll(async () => {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end();
    });
  });
  await own(
    new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)),
    () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
  );
  hookUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
});

let models = 0;
/** The emulator's answer, loosely typed: each test reads the fields it checks. */
interface Answer {
  readonly latest_version: { readonly id: string };
  readonly id: string;
  readonly status: string;
  readonly input: Record<string, unknown>;
  readonly output: { readonly version: string; readonly weights: string };
  readonly results: ReadonlyArray<{
    readonly id: string;
    readonly openapi_schema: { components: { schemas: { Input: { properties: Record<string, unknown> } } } };
  }>;
  readonly invalid_fields?: ReadonlyArray<{ readonly field: string }>;
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Answer }> {
  const response = await fetch(`${local.emulator.url}${path}`, {
    method,
    headers: auth,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Answer };
}

/** Makes a destination model and creates a training into it; returns the created training. */
async function train(extra: Record<string, unknown> = {}, input: Record<string, unknown> = {}) {
  const name = `trained-${++models}`;
  await api('POST', '/models', { owner: 'me', name, visibility: 'private', hardware: 'gpu-t4' });
  const { json: trainer } = await api('GET', `/models/${TRAINER}`);
  const created = await api('POST', `/models/${TRAINER}/versions/${trainer.latest_version.id}/trainings`, {
    destination: `me/${name}`,
    input: { input_images: 'https://example.com/photos.zip', steps: 100, trigger_word: 'ZXQ', ...input },
    ...extra,
  });
  expect(created.status).toBe(201);
  return { destination: `me/${name}`, training: created.json };
}

async function succeeded(id: string): Promise<Answer> {
  return until(async () => {
    const { json } = await api('GET', `/trainings/${id}`);
    return json.status === 'succeeded' && json;
  });
}

describe('training webhooks', () => {
  test('a training created with webhook gets signed start, logs and completed deliveries of the training object', async () => {
    const { training } = await train({ webhook: hookUrl, webhook_events_filter: ['start', 'logs', 'completed'] });
    const mine = () => received.filter((d) => (JSON.parse(d.body) as { id: string }).id === training.id);
    await until(() => mine().some((d) => JSON.parse(d.body).status === 'succeeded'));
    const bodies = mine().map((d) => JSON.parse(d.body) as { status: string; logs: string; output: unknown });
    expect(bodies[0]!.status).toBe('starting');
    // Logs deliveries carry the trainer's `step n/N` lines as they grow.
    expect(bodies.some((b) => b.status === 'processing' && /step \d+\/100/.test(b.logs))).toBe(true);
    expect(bodies.at(-1)).toMatchObject({ status: 'succeeded', output: { version: expect.stringMatching(/^me\//) } });
    for (const delivery of mine()) {
      const valid = await validateWebhook(
        { headers: delivery.headers as Record<string, string>, body: delivery.body },
        local.emulator.webhooks.secret,
      );
      expect(valid).toBe(true);
    }
    const events = local.emulator.webhooks.deliveries.filter((d) => d.predictionId === training.id).map((d) => d.event);
    expect(events[0]).toBe('start');
    expect(events.at(-1)).toBe('completed');
    expect(events).toContain('logs');
  });

  test('a bad webhook is refused with 422 and no training', async () => {
    const name = `trained-${++models}`;
    await api('POST', '/models', { owner: 'me', name, visibility: 'private', hardware: 'gpu-t4' });
    const { json: trainer } = await api('GET', `/models/${TRAINER}`);
    const answer = await api('POST', `/models/${TRAINER}/versions/${trainer.latest_version.id}/trainings`, {
      destination: `me/${name}`,
      input: { input_images: 'https://example.com/photos.zip' },
      webhook: 'ftp://example.com/hook',
    });
    expect(answer.status).toBe(422);
    expect(JSON.stringify(answer.json)).toMatch(/webhook must be an http\(s\) URL/);
  });
});

describe('what a training makes', () => {
  test('the destination lists the new version (GET /v1/models/{owner}/{name}/versions), newest first, and serves it by id', async () => {
    const { destination, training } = await train();
    const { output } = await succeeded(training.id);
    const id = output.version.split(':')[1]!;
    const versions = await api('GET', `/models/${destination}/versions`);
    expect(versions.status).toBe(200);
    expect(versions.json.results.map((v) => v.id)).toEqual([id]);
    expect(versions.json.results[0]!.openapi_schema.components.schemas.Input.properties).toHaveProperty('lora_scale');
    const one = await api('GET', `/models/${destination}/versions/${id}`);
    expect(one.json.id).toBe(id);
    expect((await api('GET', `/models/${destination}/versions/${'0'.repeat(64)}`)).status).toBe(404);
    expect((await api('GET', `/models/${destination}`)).json.latest_version.id).toBe(id);
  });

  test('the weights URL serves a tar holding the LoRA safetensors, without a token; 404 before the training ends', async () => {
    const { training } = await train({}, { lora_rank: 8 });
    const early = await fetch(`${new URL(local.emulator.url).origin}/weights/${training.id}/trained_model.tar`);
    expect(early.status).toBe(404);
    const { output } = await succeeded(training.id);
    const response = await fetch(output.weights);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-tar');
    const tar = Buffer.from(await response.arrayBuffer());
    // ustar: the name, the magic, a valid checksum, the size in octal, then the file.
    expect(tar.subarray(0, 100).toString('latin1').replace(/\0+$/, '')).toBe(
      fixture<{ weights_file: { path: string } }>('flux-trainer.json').weights_file.path,
    );
    expect(tar.subarray(257, 263).toString('latin1')).toBe('ustar\0');
    const header = Buffer.from(tar.subarray(0, 512));
    const checksum = parseInt(header.subarray(148, 154).toString('latin1'), 8);
    header.fill(' ', 148, 156);
    expect(header.reduce((sum, byte) => sum + byte, 0)).toBe(checksum);
    const size = parseInt(tar.subarray(124, 135).toString('latin1'), 8);
    expect(tar.length % 512).toBe(0);
    const file = tar.subarray(512, 512 + size);
    // safetensors: a little-endian header length, the JSON header, then every tensor's bytes.
    const length = Number(file.readBigUInt64LE(0));
    const meta = JSON.parse(file.subarray(8, 8 + length).toString('utf8')) as Record<
      string,
      { dtype?: string; shape?: number[]; data_offsets?: [number, number] } & Record<string, string>
    >;
    expect(meta.__metadata__).toMatchObject({ trigger_word: 'ZXQ', emulated: 'true' });
    const tensors = Object.entries(meta).filter(([name]) => name !== '__metadata__');
    expect(tensors.map(([, t]) => t.shape)).toEqual([
      [8, 4],
      [4, 8],
    ]);
    const end = Math.max(...tensors.map(([, t]) => t.data_offsets![1]));
    expect(file.length).toBe(8 + length + end);
  });
});

describe('predictions that load a trained LoRA', () => {
  const create = (lora_weights: string) =>
    api('POST', '/models/black-forest-labs/flux-dev-lora/predictions', {
      input: { prompt: 'a photo of ZXQ', lora_weights },
    });

  test("the training's weights URL and its version are accepted", async () => {
    const { destination, training } = await train();
    const { output } = await succeeded(training.id);
    for (const lora of [output.weights, output.version, destination]) {
      const answer = await create(lora);
      expect(answer.status).toBeLessThan(300);
      expect(answer.json.input.lora_weights).toBe(lora);
    }
  });

  test('weights of a training that has not succeeded, or a version its model does not have, are refused with 422', async () => {
    const { destination, training } = await train();
    const origin = new URL(local.emulator.url).origin;
    for (const lora of [
      `${origin}/weights/${training.id}/trained_model.tar`,
      `${origin}/weights/nosuchtraining/trained_model.tar`,
      `${destination}:${'0'.repeat(64)}`,
    ]) {
      const answer = await create(lora);
      expect(answer.status).toBe(422);
      expect(answer.json.invalid_fields?.[0]?.field).toBe('input.lora_weights');
    }
  });
});

import { describe, expect, test } from '@jest/globals';
import { unzipSync } from 'fflate';
import { ReplicateFluxLoraBlock, ReplicateFluxTrainerBlock as block, ReplicateModelBlock } from '../../blocks/index.js';
import type { ProgressEvent } from '../../index.js';
import { EXAMPLE_IMAGE } from '../../sdk.js';
import {
  abortWhen,
  collect,
  contextFor,
  CREDENTIALS,
  errorOf,
  FAST,
  names,
  requestsTo,
  TOKEN,
  useEmulator,
} from '../helpers.js';

const local = useEmulator({ ...FAST, trainingMs: 150 });
const TRAINER = 'ostris/flux-dev-lora-trainer';
let models = 0;
/** A destination no other test used: the emulator keeps the models made. */
const fresh = () => `me/lora-${++models}`;
const base = (destination: string) => ({
  credentials: CREDENTIALS,
  images_zip: 'https://example.com/photos.zip',
  trigger_word: 'ZXQ',
  steps: 500,
  destination,
});
const sent = () => local.emulator.requests.map((r) => `${r.method} ${r.path.replace(/[0-9a-f]{64}/, '<version>')}`);

describe('training into a destination', () => {
  test('a missing destination is created private (and said so), then trained; outputs the new version and weights', async () => {
    const destination = fresh();
    const events: ProgressEvent[] = [];
    const outputs = await collect(
      block,
      base(destination),
      contextFor(local.emulator, { onProgress: (e) => events.push(e) }),
    );
    expect(names(outputs)).toEqual(['version', 'weights']);
    expect(outputs[0]![1]).toMatch(new RegExp(`^${destination}:[0-9a-f]{64}$`));
    expect(outputs[1]![1]).toMatch(/\/weights\/[a-z2-7]+\/trained_model\.tar$/);
    expect(sent().slice(0, 4)).toEqual([
      `GET /v1/models/${TRAINER}`,
      `GET /v1/models/${destination}`,
      'POST /v1/models',
      `POST /v1/models/${TRAINER}/versions/<version>/trainings`,
    ]);
    expect(requestsTo(local.emulator, 'POST', /^\/v1\/models$/)[0]!.body).toEqual({
      owner: 'me',
      name: destination.split('/')[1],
      visibility: 'private',
      hardware: 'gpu-t4',
    });
    const create = requestsTo(local.emulator, 'POST', /trainings$/)[0]!.body;
    expect(create).toEqual({
      destination,
      input: { input_images: 'https://example.com/photos.zip', trigger_word: 'ZXQ', steps: 500 },
    });
    expect(events[0]!.message).toBe(`destination ${destination} does not exist: creating it as a private model`);
    // Progress from the training's logs: step n of N, ending at 500 of 500.
    const steps = events.map((e) => e.message).filter((m) => m?.startsWith('step '));
    expect(steps.at(-1)).toBe('step 500 of 500');
    expect(events.at(-1)).toMatchObject({ status: 'succeeded', percent: 100 });
  });

  test('an existing destination is not created again; the trained version runs, pinned or by name', async () => {
    const destination = fresh();
    await collect(block, base(destination), contextFor(local.emulator));
    local.emulator.requests.splice(0);
    const second = await collect(block, base(destination), contextFor(local.emulator));
    expect(requestsTo(local.emulator, 'POST', /^\/v1\/models$/)).toEqual([]);
    const version = second[0]![1] as string;
    for (const model of [version, destination]) {
      const run = await collect(
        ReplicateModelBlock,
        { credentials: CREDENTIALS, model, input: { prompt: 'a photo of ZXQ', lora_scale: 0.8 } },
        contextFor(local.emulator),
      );
      expect(names(run)).toEqual(['result', 'output']);
    }
    // By name, the model's latest version is the one just trained.
    expect(
      requestsTo(local.emulator, 'POST', /^\/v1\/predictions$/).map((r) => (r.body as { version: string }).version),
    ).toEqual([version, version]);
  });

  test('the trained weights and version load as lora_weights, in the LoRA block and the Replicate Model block', async () => {
    const trained = new Map(await collect(block, base(fresh()), contextFor(local.emulator)));
    const [version, weights] = [trained.get('version') as string, trained.get('weights') as string];
    local.emulator.requests.splice(0);
    for (const lora_weights of [weights, version]) {
      const viaLora = await collect(
        ReplicateFluxLoraBlock,
        { credentials: CREDENTIALS, prompt: 'a photo of ZXQ', lora_weights },
        contextFor(local.emulator),
      );
      expect(names(viaLora)).toEqual(['result', 'seed']);
      const viaModel = await collect(
        ReplicateModelBlock,
        {
          credentials: CREDENTIALS,
          model: 'black-forest-labs/flux-dev-lora',
          input: { prompt: 'a photo of ZXQ', lora_weights },
        },
        contextFor(local.emulator),
      );
      expect(names(viaModel)).toEqual(['result', 'output']);
    }
    // The emulator refuses weights it did not make (422), so these loaded the trained ones.
    const sent = requestsTo(local.emulator, 'POST', /flux-dev-lora\/predictions$/);
    expect(sent.map((r) => (r.body as { input: { lora_weights: string } }).input.lora_weights)).toEqual([
      weights,
      weights,
      version,
      version,
    ]);
    expect(sent.every((r) => typeof r.outcome === 'number' && r.outcome < 300)).toBe(true);
  });

  test('a list of images is zipped and uploaded through the Files API; its URL is input_images', async () => {
    const outputs = await collect(
      block,
      { ...base(fresh()), images_zip: undefined, images: [EXAMPLE_IMAGE, EXAMPLE_IMAGE] },
      contextFor(local.emulator),
    );
    expect(names(outputs)).toEqual(['version', 'weights']);
    const create = requestsTo(local.emulator, 'POST', /trainings$/)[0]!.body as { input: { input_images: string } };
    const zipUrl = create.input.input_images;
    expect(zipUrl).toMatch(/\/v1\/files\/[^/]+$/);
    const zip = new Uint8Array(
      await (await fetch(`${zipUrl}/download`, { headers: { Authorization: `Bearer ${TOKEN}` } })).arrayBuffer(),
    );
    expect(Object.keys(unzipSync(zip)).sort()).toEqual(['image-1.png', 'image-2.png']);
  });
});

describe('checked before any request', () => {
  test.each<[Record<string, unknown>, RegExp]>([
    [{ images_zip: undefined }, /images: give the training images \(images or images_zip\)/],
    [{ images: [EXAMPLE_IMAGE] }, /images: give images or images_zip, not both/],
    [{ destination: 'no-slash' }, /destination: must be owner\/name/],
    [{ steps: 2 }, /steps/],
    [{ trigger_word: 'two words' }, /trigger_word: must be one word/],
    [{ options: { steps: 10 } }, /options: set steps with the block's own fields, not here/],
    [{ images_zip: 'ftp://example.com/a.zip' }, /images_zip/],
  ])('%j', async (change, message) => {
    const outputs = await collect(block, { ...base('me/x'), ...change }, contextFor(local.emulator));
    expect(errorOf(outputs)).toMatch(message);
    expect(local.emulator.requests).toEqual([]);
  });

  test("an option the trainer's published schema refuses: no model is made, no training created", async () => {
    const outputs = await collect(block, { ...base(fresh()), options: { lora_rank: 999 } }, contextFor(local.emulator));
    expect(errorOf(outputs)).toMatch(
      /^Trainer ostris\/flux-dev-lora-trainer \(version [0-9a-f]{12}\) refuses this input: input\.lora_rank: must be <= 128/,
    );
    expect(sent()).toEqual([`GET /v1/models/${TRAINER}`]);
  });
});

describe('stopping', () => {
  test('aborting the run cancels the training on Replicate', async () => {
    const { signal } = abortWhen(() => requestsTo(local.emulator, 'GET', /^\/v1\/trainings\//).length > 0);
    const outputs = await collect(block, base(fresh()), contextFor(local.emulator, {}, signal));
    expect(errorOf(outputs)).toMatch(/^Training [a-z2-7]+ was stopped by the host\. It was canceled\./);
    const [cancel] = requestsTo(local.emulator, 'POST', /^\/v1\/trainings\/[^/]+\/cancel$/);
    expect(cancel?.outcome).toBe(200);
    const id = /trainings\/([^/]+)\/cancel/.exec(cancel!.path)![1]!;
    const training = (await (
      await fetch(`${local.emulator.url}/trainings/${id}`, { headers: { Authorization: `Bearer ${TOKEN}` } })
    ).json()) as { status: string };
    expect(training.status).toBe('canceled');
  });

  test('a destination Replicate refuses is an error naming it, with no training', async () => {
    local.emulator.inject({ route: 'models-create', answer: { status: 403 } });
    const outputs = await collect(block, base(fresh()), contextFor(local.emulator));
    expect(errorOf(outputs)).toMatch(/403|unauthori|permission/i);
    expect(requestsTo(local.emulator, 'POST', /trainings$/)).toEqual([]);
  });
});

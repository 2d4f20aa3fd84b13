import { describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { ReplicateFlux2Block, ReplicateFluxFillBlock, ReplicateFluxKontextBlock } from '../../blocks/index.js';
import type { Block } from '../../index.js';
import { EXAMPLE_IMAGE } from '../../sdk.js';
import { MODELS } from '../../shared/flux/catalog.js';
import { collect, contextFor, CREDENTIALS, errorOf, names, requestsTo, useEmulator } from '../helpers.js';

// The Flux Kontext, Flux Fill and Flux 2 blocks: what each model is sent, what is refused
// before any request, and the size of what comes back.
const local = useEmulator();
const IMAGE = 'https://example.com/photo.png';
const MASK = 'https://example.com/mask.png';

/** Runs a block and returns the one create request the emulator saw, with the outputs. */
async function sent(block: Block, input: Record<string, unknown>) {
  const outputs = await collect(block, { credentials: CREDENTIALS, seed: 9, ...input }, contextFor(local.emulator));
  const creates = requestsTo(local.emulator, 'POST', /\/predictions$/);
  expect(creates).toHaveLength(1);
  const body = creates[0]!.body as { input: Record<string, unknown> };
  const model = /^\/v1\/models\/(.+)\/predictions$/.exec(creates[0]!.path)![1]!;
  // Whatever is sent is an input of that model.
  expect(Object.keys(body.input).filter((param) => !(param in MODELS[model as keyof typeof MODELS].inputs))).toEqual(
    [],
  );
  return { model, input: body.input, outputs };
}

/** Size in px of the image at a result URL, read from its bytes. */
async function sizeOf(url: unknown): Promise<[number, number]> {
  const { width, height } = await sharp(Buffer.from(await (await fetch(String(url))).arrayBuffer())).metadata();
  return [width!, height!];
}

/** An input image of the given size as a data: URI. */
async function imageOf(width: number, height: number): Promise<string> {
  const bytes = await sharp({ create: { width, height, channels: 3, background: '#c63' } })
    .png()
    .toBuffer();
  return `data:image/png;base64,${bytes.toString('base64')}`;
}

describe('Flux Kontext: request body per model', () => {
  test('Pro, defaults: no safety_tolerance unless set, match_input_image, png', async () => {
    const { model, input } = await sent(ReplicateFluxKontextBlock, {
      prompt: 'make it night',
      input_image: EXAMPLE_IMAGE,
    });
    expect(model).toBe('black-forest-labs/flux-kontext-pro');
    expect(input).toEqual({
      prompt: 'make it night',
      input_image: EXAMPLE_IMAGE,
      aspect_ratio: 'match_input_image',
      seed: 9,
      output_format: 'png',
    });
  });

  test('Max with safety_tolerance, 2:1 and jpg', async () => {
    const { model, input } = await sent(ReplicateFluxKontextBlock, {
      prompt: 'make it night',
      input_image: EXAMPLE_IMAGE,
      model: 'Flux Kontext Max',
      safety_tolerance: 1,
      aspect_ratio: '2:1',
      output_format: 'jpg',
    });
    expect(model).toBe('black-forest-labs/flux-kontext-max');
    expect(input).toEqual({
      prompt: 'make it night',
      input_image: EXAMPLE_IMAGE,
      aspect_ratio: '2:1',
      seed: 9,
      output_format: 'jpg',
      safety_tolerance: 1,
    });
  });

  test('Pro without an input image generates from text, and may use safety_tolerance up to 6', async () => {
    const { input } = await sent(ReplicateFluxKontextBlock, {
      prompt: 'a red fox',
      safety_tolerance: 6,
      aspect_ratio: '1:1',
    });
    expect(input).toEqual({
      prompt: 'a red fox',
      aspect_ratio: '1:1',
      seed: 9,
      output_format: 'png',
      safety_tolerance: 6,
    });
  });

  test('Dev with num_inference_steps, guidance and go_fast', async () => {
    const { model, input } = await sent(ReplicateFluxKontextBlock, {
      prompt: 'make it night',
      input_image: EXAMPLE_IMAGE,
      model: 'Flux Kontext Dev',
      num_inference_steps: 30,
      guidance: 3.5,
      go_fast: false,
      output_format: 'webp',
    });
    expect(model).toBe('black-forest-labs/flux-kontext-dev');
    expect(input).toEqual({
      prompt: 'make it night',
      input_image: EXAMPLE_IMAGE,
      aspect_ratio: 'match_input_image',
      seed: 9,
      output_format: 'webp',
      num_inference_steps: 30,
      guidance: 3.5,
      go_fast: false,
    });
  });
});

describe('Flux Fill: request body per model', () => {
  test('Pro: steps, guidance, outpaint and safety_tolerance under its own names', async () => {
    const { model, input, outputs } = await sent(ReplicateFluxFillBlock, {
      prompt: 'a calm sea',
      image: EXAMPLE_IMAGE,
      mask: EXAMPLE_IMAGE,
      steps: 40,
      guidance: 60,
      outpaint: 'Zoom out 2x',
      safety_tolerance: 3,
    });
    expect(model).toBe('black-forest-labs/flux-fill-pro');
    expect(input).toEqual({
      prompt: 'a calm sea',
      image: EXAMPLE_IMAGE,
      mask: EXAMPLE_IMAGE,
      seed: 9,
      output_format: 'jpg',
      guidance: 60,
      steps: 40,
      outpaint: 'Zoom out 2x',
      safety_tolerance: 3,
    });
    expect(names(outputs)).toEqual(['result', 'seed']);
  });

  test('Dev: steps as num_inference_steps, num_outputs, output_quality; one result per image', async () => {
    const { model, input, outputs } = await sent(ReplicateFluxFillBlock, {
      prompt: 'a calm sea',
      image: EXAMPLE_IMAGE,
      model: 'Flux Fill Dev',
      steps: 20,
      guidance: 80,
      num_outputs: 2,
      output_format: 'webp',
      output_quality: 90,
    });
    expect(model).toBe('black-forest-labs/flux-fill-dev');
    expect(input).toEqual({
      prompt: 'a calm sea',
      image: EXAMPLE_IMAGE,
      seed: 9,
      output_format: 'webp',
      guidance: 80,
      num_inference_steps: 20,
      num_outputs: 2,
      output_quality: 90,
    });
    expect(names(outputs)).toEqual(['result', 'result', 'seed']);
  });

  test('empty steps and guidance are not sent: each model uses its own default', async () => {
    const { input } = await sent(ReplicateFluxFillBlock, { prompt: 'a calm sea', image: EXAMPLE_IMAGE });
    expect(input).toEqual({ prompt: 'a calm sea', image: EXAMPLE_IMAGE, seed: 9, output_format: 'jpg' });
  });
});

describe('Flux 2: request body per model', () => {
  test('Pro with reference images', async () => {
    const { model, input } = await sent(ReplicateFlux2Block, {
      prompt: 'a postcard',
      input_images: [EXAMPLE_IMAGE, EXAMPLE_IMAGE],
    });
    expect(model).toBe('black-forest-labs/flux-2-pro');
    expect(input).toEqual({
      prompt: 'a postcard',
      input_images: [EXAMPLE_IMAGE, EXAMPLE_IMAGE],
      aspect_ratio: '1:1',
      resolution: '1 MP',
      safety_tolerance: 2,
      seed: 9,
      output_format: 'webp',
      output_quality: 80,
    });
  });

  test('Max with a custom size', async () => {
    const { model, input } = await sent(ReplicateFlux2Block, {
      prompt: 'a banner',
      model: 'Flux 2 Max',
      aspect_ratio: 'custom',
      width: 1536,
      height: 640,
    });
    expect(model).toBe('black-forest-labs/flux-2-max');
    expect(input).toMatchObject({ aspect_ratio: 'custom', width: 1536, height: 640, input_images: [] });
  });

  test('Flex with steps, guidance and prompt_upsampling', async () => {
    const { model, input } = await sent(ReplicateFlux2Block, {
      prompt: 'a sign',
      model: 'Flux 2 Flex',
      steps: 40,
      guidance: 5,
      prompt_upsampling: false,
    });
    expect(model).toBe('black-forest-labs/flux-2-flex');
    expect(input).toMatchObject({ steps: 40, guidance: 5, prompt_upsampling: false });
  });
});

describe('validation edges: one error naming the field, no request', () => {
  const kontext = { prompt: 'make it night', input_image: IMAGE };
  const fill = { prompt: 'a calm sea', image: IMAGE, mask: MASK };
  test.each<[string, Block, Record<string, unknown>, string]>([
    [
      'Kontext Dev without an input image',
      ReplicateFluxKontextBlock,
      { prompt: 'x', model: 'Flux Kontext Dev' },
      'input_image: is required with Flux Kontext Dev',
    ],
    [
      'Kontext Pro, safety_tolerance 3 with an input image',
      ReplicateFluxKontextBlock,
      { ...kontext, safety_tolerance: 3 },
      'safety_tolerance: must be <= 2 when editing an input_image with Flux Kontext Pro',
    ],
    [
      'Kontext Max, safety_tolerance 3 with an input image',
      ReplicateFluxKontextBlock,
      { ...kontext, model: 'Flux Kontext Max', safety_tolerance: 3 },
      'safety_tolerance: must be <= 2 when editing an input_image with Flux Kontext Max',
    ],
    [
      'Kontext safety_tolerance 7',
      ReplicateFluxKontextBlock,
      { prompt: 'x', safety_tolerance: 7 },
      'safety_tolerance: must be <= 6',
    ],
    [
      'Kontext Dev with safety_tolerance',
      ReplicateFluxKontextBlock,
      { ...kontext, model: 'Flux Kontext Dev', safety_tolerance: 2 },
      'safety_tolerance: Flux Kontext Dev does not take it (only Flux Kontext Pro, Flux Kontext Max); leave it empty',
    ],
    [
      'Kontext Pro with guidance',
      ReplicateFluxKontextBlock,
      { ...kontext, guidance: 3 },
      'guidance: Flux Kontext Pro does not take it (only Flux Kontext Dev); leave it empty',
    ],
    [
      'Kontext Pro with webp',
      ReplicateFluxKontextBlock,
      { ...kontext, output_format: 'webp' },
      'output_format: must be one of "jpg", "png" with Flux Kontext Pro',
    ],
    [
      'Kontext Dev with 2:1',
      ReplicateFluxKontextBlock,
      { ...kontext, model: 'Flux Kontext Dev', aspect_ratio: '2:1' },
      'aspect_ratio: must be one of "match_input_image", "1:1"',
    ],
    [
      'Kontext Dev with 3 steps',
      ReplicateFluxKontextBlock,
      { ...kontext, model: 'Flux Kontext Dev', num_inference_steps: 3 },
      'num_inference_steps: must be >= 4',
    ],
    [
      'Kontext input_image not a URL',
      ReplicateFluxKontextBlock,
      { prompt: 'x', input_image: 'photo.png' },
      'input_image: must be an http(s) URL or a data:image/... URI',
    ],
    [
      'Kontext blank prompt',
      ReplicateFluxKontextBlock,
      { prompt: '   ', input_image: IMAGE },
      'prompt: must not be empty',
    ],
    ['Fill without an image', ReplicateFluxFillBlock, { prompt: 'x' }, 'image: is required'],
    ['Fill Pro, 10 steps', ReplicateFluxFillBlock, { ...fill, steps: 10 }, 'steps: must be >= 15 with Flux Fill Pro'],
    [
      'Fill Pro, guidance 1',
      ReplicateFluxFillBlock,
      { ...fill, guidance: 1 },
      'guidance: must be >= 1.5 with Flux Fill Pro',
    ],
    [
      'Fill, guidance 101',
      ReplicateFluxFillBlock,
      { ...fill, model: 'Flux Fill Dev', guidance: 101 },
      'guidance: must be <= 100',
    ],
    [
      'Fill Pro with num_outputs',
      ReplicateFluxFillBlock,
      { ...fill, num_outputs: 2 },
      'num_outputs: Flux Fill Pro does not take it (only Flux Fill Dev); leave it empty',
    ],
    [
      'Fill Dev with outpaint',
      ReplicateFluxFillBlock,
      { ...fill, model: 'Flux Fill Dev', outpaint: 'Make square' },
      'outpaint: Flux Fill Dev does not take it (only Flux Fill Pro); leave it empty',
    ],
    [
      'Fill Pro with webp',
      ReplicateFluxFillBlock,
      { ...fill, output_format: 'webp' },
      'output_format: must be one of "jpg", "png" with Flux Fill Pro',
    ],
    [
      'Fill, an unknown outpaint',
      ReplicateFluxFillBlock,
      { ...fill, outpaint: 'Zoom out 3x' },
      'outpaint: must be one of "None", "Zoom out 1.5x"',
    ],
    [
      'Flux 2 custom without a size',
      ReplicateFlux2Block,
      { prompt: 'x', aspect_ratio: 'custom' },
      'width: is required with aspect_ratio custom; height: is required with aspect_ratio custom',
    ],
    [
      'Flux 2 a width without custom',
      ReplicateFlux2Block,
      { prompt: 'x', width: 1024 },
      'width: is used with aspect_ratio custom only',
    ],
    [
      'Flux 2 match_input_image without references',
      ReplicateFlux2Block,
      { prompt: 'x', resolution: 'match_input_image' },
      'resolution: match_input_image needs at least one of input_images',
    ],
    [
      'Flux 2 Pro with steps',
      ReplicateFlux2Block,
      { prompt: 'x', steps: 20 },
      'steps: Flux 2 Pro does not take it (only Flux 2 Flex); leave it empty',
    ],
    [
      'Flux 2 safety_tolerance 6',
      ReplicateFlux2Block,
      { prompt: 'x', safety_tolerance: 6 },
      'safety_tolerance: must be <= 5',
    ],
    [
      'Flux 2 width 4000',
      ReplicateFlux2Block,
      { prompt: 'x', aspect_ratio: 'custom', width: 4000, height: 1000 },
      'width: must be <= 2048',
    ],
    [
      'Flux 2 a reference that is not a URL',
      ReplicateFlux2Block,
      { prompt: 'x', input_images: ['file:///etc/passwd'] },
      'input_images.0: must be an http(s) URL or a data:image/... URI',
    ],
  ])('%s', async (_, block, input, message) => {
    const error = errorOf(await collect(block, { credentials: CREDENTIALS, ...input }, contextFor(local.emulator)));
    expect(error).toContain(`Invalid input: ${message}`);
    expect(local.emulator.requests).toHaveLength(0);
  });
});

describe('output sizes on the emulator follow the input image', () => {
  test("Kontext match_input_image keeps the input's proportions at about 1 MP", async () => {
    const { outputs } = await sent(ReplicateFluxKontextBlock, { prompt: 'x', input_image: await imageOf(300, 600) });
    expect(await sizeOf(outputs[0]![1])).toEqual([720, 1456]);
  });

  test("Kontext with an explicit ratio ignores the input's", async () => {
    const { outputs } = await sent(ReplicateFluxKontextBlock, {
      prompt: 'x',
      input_image: await imageOf(300, 600),
      aspect_ratio: '16:9',
    });
    expect(await sizeOf(outputs[0]![1])).toEqual([1360, 768]);
  });

  test('an output of the emulator as input: its size is known', async () => {
    const first = await sent(ReplicateFlux2Block, { prompt: 'x', aspect_ratio: 'custom', width: 512, height: 768 });
    local.emulator.requests.splice(0);
    const edited = await sent(ReplicateFluxKontextBlock, { prompt: 'y', input_image: first.outputs[0]![1] });
    expect(await sizeOf(edited.outputs[0]![1])).toEqual([832, 1248]);
  });

  test("Fill Pro keeps the image's size, grown by its outpaint choice", async () => {
    const { outputs } = await sent(ReplicateFluxFillBlock, {
      prompt: 'x',
      image: await imageOf(512, 512),
      outpaint: 'Right outpaint',
    });
    expect(await sizeOf(outputs[0]![1])).toEqual([768, 512]);
  });

  test("Flux 2 resolution match_input_image takes the first reference's size", async () => {
    const { outputs } = await sent(ReplicateFlux2Block, {
      prompt: 'x',
      input_images: [await imageOf(640, 480)],
      aspect_ratio: 'match_input_image',
      resolution: 'match_input_image',
    });
    expect(await sizeOf(outputs[0]![1])).toEqual([640, 480]);
  });

  test('an input image the emulator cannot read is a 422 naming the field', async () => {
    const outputs = await collect(
      ReplicateFluxKontextBlock,
      { credentials: CREDENTIALS, prompt: 'x', input_image: 'data:image/png;base64,AAAA' },
      contextFor(local.emulator),
    );
    expect(errorOf(outputs)).toMatch(
      /^Replicate API error 422 Input validation failed: input_image could not be read as an image\./,
    );
  });
});

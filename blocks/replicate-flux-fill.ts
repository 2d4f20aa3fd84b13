import { z } from 'zod';
import {
  credentialsField,
  defineBlock,
  EXAMPLE_CREDENTIALS as credentials,
  EXAMPLE_IMAGE,
  field,
  IMAGE_OUTPUTS,
  imageUrl,
  promptField,
  seedField,
} from '../sdk.js';
import { type ModelChoices, refineChoice, runChoice, usedByNote } from '../shared/flux/choices.js';
import { choicePricing } from '../shared/flux/prices.js';
import { refineSameSize } from '../shared/framework/fields.js';

const common = {
  prompt: 'prompt',
  image: 'image',
  mask: 'mask',
  seed: 'seed',
  output_format: 'output_format',
  guidance: 'guidance',
};

/**
 * The Flux Fill models and the block fields each takes. Source: the models' input schemas
 * (`shared/flux/catalog.ts`): Pro takes `steps` 15-50, guidance 1.5-100, outpaint and
 * safety_tolerance; Dev takes `num_inference_steps` 1-50, guidance 0-100 and num_outputs.
 */
export const FILL_CHOICES = {
  'Flux Fill Pro': {
    model: 'black-forest-labs/flux-fill-pro',
    params: { ...common, steps: 'steps', outpaint: 'outpaint', safety_tolerance: 'safety_tolerance' },
  },
  'Flux Fill Dev': {
    model: 'black-forest-labs/flux-fill-dev',
    params: { ...common, steps: 'num_inference_steps', num_outputs: 'num_outputs', output_quality: 'output_quality' },
  },
} as const satisfies ModelChoices;

type ModelName = keyof typeof FILL_CHOICES;
const MODEL_NAMES = Object.keys(FILL_CHOICES) as [ModelName, ...ModelName[]];
// Fields only one model takes: refused with the other, so a setting is never silently dropped.
const ONLY_SOME = ['outpaint', 'safety_tolerance', 'num_outputs', 'output_quality'];
const only = (name: string) => usedByNote(FILL_CHOICES, name, true);

const inputSchema = z
  .object({
    credentials: credentialsField('replicate', 'The Replicate API key to run the model with.'),
    prompt: promptField(
      'What to paint into the masked (or outpainted) area.',
      "e.g., 'A red vintage bicycle leaning on the wall'",
    ),
    image: field(
      imageUrl(),
      'The image to inpaint or outpaint: an http(s) URL (such as a `result` of another block) or a data: URI.',
      { title: 'Image', advanced: false },
    ),
    mask: field(
      imageUrl().nullish(),
      'Mask of the same size as the image: white areas are repainted, black areas kept. Optional when outpainting with Flux Fill Pro.',
      { title: 'Mask', advanced: false },
    ),
    model: field(
      z.enum(MODEL_NAMES).default('Flux Fill Pro'),
      `The Flux Fill model to run on Replicate: ${MODEL_NAMES.join(', ')}.`,
      {
        title: 'Model',
        advanced: false,
      },
    ),
    outpaint: field(
      z
        .enum([
          'None',
          'Zoom out 1.5x',
          'Zoom out 2x',
          'Make square',
          'Left outpaint',
          'Right outpaint',
          'Top outpaint',
          'Bottom outpaint',
        ])
        .nullish(),
      `Extend the canvas and paint the new area: zoom out, make square, or grow one side. Empty: None.${only('outpaint')}`,
      { title: 'Outpaint' },
    ),
    steps: field(
      z.number().int().min(1).max(50).nullish(),
      `Denoising steps: Flux Fill Pro 15-50 (default 50), Flux Fill Dev 1-50 (default 28). Empty: the model's default.${usedByNote(FILL_CHOICES, 'steps')}`,
      { title: 'Steps' },
    ),
    guidance: field(
      z.number().min(0).max(100).nullish(),
      `How closely the fill follows the prompt: Flux Fill Pro 1.5-100 (default 60), Flux Fill Dev 0-100 (default 30). Empty: the model's default.${usedByNote(FILL_CHOICES, 'guidance')}`,
      { title: 'Guidance' },
    ),
    num_outputs: field(
      z.number().int().min(1).max(4).nullish(),
      `How many images to make, 1-4, each yielded as a \`result\`. Empty makes one.${only('num_outputs')}`,
      { title: 'Number of Images' },
    ),
    seed: seedField(),
    output_format: field(
      z.enum(['jpg', 'png', 'webp']).default('jpg'),
      'File format of the image. Flux Fill Pro writes jpg or png only.',
      { title: 'Output Format' },
    ),
    output_quality: field(
      z.number().int().min(0).max(100).nullish(),
      `Quality of jpg and webp images, 0-100; ignored for png. Empty: 80.${only('output_quality')}`,
      { title: 'Output Quality' },
    ),
    safety_tolerance: field(
      z.number().int().min(1).max(6).nullish(),
      `Safety filter tolerance, 1 (strictest) to 6 (most permissive). Empty: the model's default, 2.${only('safety_tolerance')}`,
      { title: 'Safety Tolerance' },
    ),
  })
  .strict()
  .superRefine(refineChoice(FILL_CHOICES, 'model', ONLY_SOME))
  .superRefine(refineSameSize('mask', 'image'));

/** Flux Fill: inpaints the masked part of an image, or outpaints beyond its edges, with Flux Fill Pro or Dev on Replicate. */
export const ReplicateFluxFillBlock = defineBlock({
  id: 'cd37b6f8-b47f-4a46-9d46-b7057f158886',
  name: 'ReplicateFluxFillBlock',
  title: 'Replicate Flux Fill',
  description: 'This block inpaints or outpaints an image with Flux Fill models on Replicate.',
  categories: ['AI', 'MULTIMEDIA'],
  inputSchema,
  outputSchema: z.object(IMAGE_OUTPUTS),
  // num_outputs is 1-4: one `result` per image.
  outputsPerRun: { result: 4 },
  documentation: {
    whatItDoes:
      "Repaints the white part of a mask over an image from a text prompt (inpainting), or extends the image beyond its edges (outpainting, Flux Fill Pro), with Black Forest Labs' Flux Fill models. Yields the URL of each image and the seed it used.",
    howItWorks:
      "The block checks steps and guidance against the chosen model's own range (they differ between Pro and Dev), refuses fields the chosen model does not take, picks a random seed when none is given, refuses a data: URI mask whose pixel size differs from a data: URI image's (read from the bytes, before any request), and sends each field under the model's own name (`steps` is `num_inference_steps` on Dev). It runs the prediction with the shared runner. Pro keeps the image's size, grown by the outpaint choice; Dev writes about 1 megapixel in the image's proportions.",
    useCases: [
      'Remove or replace an object: paint it white in the mask and describe what should be there instead.',
      'Turn a square generated image into a banner with Right outpaint or Zoom out.',
      'Fix a detail (hands, text, a face) of an image another block generated, keeping the rest.',
    ],
    tips: [
      "The mask must have the image's size; soft edges blend better than hard ones.",
      'Describe the whole scene in the prompt, not only the masked part, so the fill matches its surroundings.',
      'Replicate deletes output files after about an hour: put a Save Image block after this one.',
    ],
  },
  examples: [
    {
      title: 'Outpaint to a square with Flux Fill Pro',
      input: {
        credentials,
        prompt: 'A calm blue sea under a clear sky',
        image: EXAMPLE_IMAGE,
        outpaint: 'Make square',
        seed: 11,
      },
      outputs: [
        ['result', /^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.jpg$/],
        ['seed', 11],
      ],
    },
    {
      title: "Steps below Flux Fill Pro's range",
      input: { credentials, prompt: 'A bicycle', image: EXAMPLE_IMAGE, steps: 10 },
      outputs: [['error', 'Invalid input: steps: must be >= 15 with Flux Fill Pro']],
    },
  ],
  pricing: choicePricing(FILL_CHOICES, 'model', 'num_outputs'),
  run: (input, context) => runChoice(FILL_CHOICES[input.model], input, context),
});

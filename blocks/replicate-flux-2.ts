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

const common = {
  prompt: 'prompt',
  input_images: 'input_images',
  aspect_ratio: 'aspect_ratio',
  resolution: 'resolution',
  width: 'width',
  height: 'height',
  safety_tolerance: 'safety_tolerance',
  seed: 'seed',
  output_format: 'output_format',
  output_quality: 'output_quality',
};

/**
 * The Flux 2 models and the block fields each takes. Source: the models' input schemas
 * (`shared/flux/catalog.ts`): all three take reference images, resolution and custom sizes; only
 * Flex takes steps, guidance and prompt_upsampling.
 */
export const FLUX_2_CHOICES = {
  'Flux 2 Pro': { model: 'black-forest-labs/flux-2-pro', params: common },
  'Flux 2 Max': { model: 'black-forest-labs/flux-2-max', params: common },
  'Flux 2 Flex': {
    model: 'black-forest-labs/flux-2-flex',
    params: { ...common, steps: 'steps', guidance: 'guidance', prompt_upsampling: 'prompt_upsampling' },
  },
} as const satisfies ModelChoices;

type ModelName = keyof typeof FLUX_2_CHOICES;
const MODEL_NAMES = Object.keys(FLUX_2_CHOICES) as [ModelName, ...ModelName[]];
const only = (name: string) => usedByNote(FLUX_2_CHOICES, name, true);
const side = (which: string) =>
  field(
    z.number().int().min(256).max(2048).nullish(),
    `Image ${which} in px, 256-2048, with aspect_ratio custom only (then required).`,
    {
      title: which[0]!.toUpperCase() + which.slice(1),
    },
  );

const inputSchema = z
  .object({
    credentials: credentialsField('replicate', 'The Replicate API key to run the model with.'),
    prompt: promptField(
      'Text prompt for image generation; it may refer to the reference images.',
      "e.g., 'The cat from image 1 wearing the hat from image 2'",
    ),
    input_images: field(
      z.array(imageUrl()).default([]),
      "Reference images the model draws on (subjects, styles, products): http(s) URLs, such as other blocks' `result`s, or data: URIs.",
      { title: 'Reference Images', advanced: false },
    ),
    model: field(
      z.enum(MODEL_NAMES).default('Flux 2 Pro'),
      `The Flux 2 model to run on Replicate: ${MODEL_NAMES.join(', ')}.`,
      {
        title: 'Model',
        advanced: false,
      },
    ),
    aspect_ratio: field(
      z
        .enum(['1:1', '16:9', '3:2', '2:3', '4:5', '5:4', '9:16', '3:4', '4:3', 'match_input_image', 'custom'])
        .default('1:1'),
      "Aspect ratio of the image; match_input_image takes the first reference image's, custom takes width and height.",
      { title: 'Aspect Ratio' },
    ),
    resolution: field(
      z.enum(['1 MP', '0.5 MP', '2 MP', '4 MP', 'match_input_image']).default('1 MP'),
      "Size of the image in megapixels; match_input_image takes the first reference image's. Ignored with aspect_ratio custom.",
      { title: 'Resolution' },
    ),
    width: side('width'),
    height: side('height'),
    steps: field(
      z.number().int().min(1).max(50).nullish(),
      `Denoising steps, 1-50. Empty: the model's default, 30.${only('steps')}`,
      { title: 'Steps' },
    ),
    guidance: field(
      z.number().min(1.5).max(10).nullish(),
      `How closely the image follows the prompt, 1.5-10. Empty: the model's default, 4.5.${only('guidance')}`,
      { title: 'Guidance' },
    ),
    prompt_upsampling: field(
      z.boolean().nullish(),
      `Let the model rewrite the prompt in more detail first. Empty: the model's default, true.${only('prompt_upsampling')}`,
      { title: 'Prompt Upsampling' },
    ),
    seed: seedField(),
    output_format: field(z.enum(['webp', 'jpg', 'png']).default('webp'), 'File format of the image.', {
      title: 'Output Format',
    }),
    output_quality: field(
      z.number().int().min(0).max(100).default(80),
      'Quality of jpg and webp images, 0-100; ignored for png.',
      { title: 'Output Quality' },
    ),
    safety_tolerance: field(
      z.number().int().min(1).max(5).default(2),
      'Safety filter tolerance, 1 (strictest) to 5 (most permissive).',
      {
        title: 'Safety Tolerance',
      },
    ),
  })
  .strict()
  .superRefine((input, ctx) => {
    refineChoice(FLUX_2_CHOICES, 'model', ['steps', 'guidance', 'prompt_upsampling'])(input, ctx);
    // The models ignore width and height unless aspect_ratio is custom: refuse rather than drop them.
    const custom = input.aspect_ratio === 'custom';
    for (const dimension of ['width', 'height'] as const) {
      const given = input[dimension] !== undefined && input[dimension] !== null;
      if (custom && !given)
        ctx.addIssue({ code: 'custom', path: [dimension], message: 'is required with aspect_ratio custom' });
      if (!custom && given)
        ctx.addIssue({
          code: 'custom',
          path: [dimension],
          message: 'is used with aspect_ratio custom only; leave it empty or set aspect_ratio to custom',
        });
    }
    if (!input.input_images.length) {
      for (const name of ['aspect_ratio', 'resolution'] as const) {
        if (input[name] === 'match_input_image')
          ctx.addIssue({
            code: 'custom',
            path: [name],
            message: 'match_input_image needs at least one of input_images',
          });
      }
    }
  });

/**
 * Flux 2: generates images from text and up to several reference images with Flux 2 Pro, Max
 * or Flex on Replicate. Its own block, not more choices of the advanced block: see the doc.
 */
export const ReplicateFlux2Block = defineBlock({
  id: '65fcfcef-6238-4843-b7fc-2e8cca080624',
  name: 'ReplicateFlux2Block',
  title: 'Replicate Flux 2',
  description: 'This block generates images from text and reference images with Flux 2 models on Replicate.',
  categories: ['AI', 'MULTIMEDIA'],
  inputSchema,
  outputSchema: z.object(IMAGE_OUTPUTS),
  documentation: {
    whatItDoes:
      "Generates an image from a text prompt with Black Forest Labs' Flux 2 models (Pro, Max, Flex), optionally guided by reference images: subjects, products or styles to keep. Sizes go up to 4 megapixels or a custom width and height. Yields the URL of the image and the seed it used.",
    howItWorks:
      "The block checks the input against the chosen model's own schema, requires width and height exactly when aspect_ratio is custom, picks a random seed when none is given, and runs the prediction with the shared runner. Flux 2 is its own block rather than more choices of Replicate Flux Advanced Model: that block keeps the AutoGPT platform's field set so saved graphs port over, and Flux 2's reference images, resolution and custom sizes, which no Flux 1 model takes, would be fields that most of its models refuse. One form per family shows a person only fields that work.",
    useCases: [
      'Product shots: put the product photo in input_images and describe the scene around it.',
      'Keep a character consistent across images by passing earlier images as references.',
      'Print-size images (up to 4 MP) or exact pixel sizes for layouts (aspect_ratio custom).',
    ],
    tips: [
      'Refer to reference images by their order in the prompt ("the jacket from image 2").',
      'Flux 2 Flex exposes steps and guidance and renders text best; Pro is the fast default; Max gives the highest quality.',
      'Replicate deletes output files after about an hour: put a Save Image block after this one.',
    ],
  },
  examples: [
    {
      title: 'Flux 2 Pro with a reference image, in its proportions',
      input: {
        credentials,
        prompt: 'A postcard of this colour',
        input_images: [EXAMPLE_IMAGE],
        aspect_ratio: 'match_input_image',
        seed: 5,
        output_format: 'png',
      },
      outputs: [
        ['result', /^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.png$/],
        ['seed', 5],
      ],
    },
    {
      title: 'Custom size without width and height',
      input: { credentials, prompt: 'A banner', aspect_ratio: 'custom' },
      outputs: [
        [
          'error',
          'Invalid input: width: is required with aspect_ratio custom; height: is required with aspect_ratio custom',
        ],
      ],
    },
  ],
  pricing: choicePricing(FLUX_2_CHOICES, 'model'),
  run: (input, context) => runChoice(FLUX_2_CHOICES[input.model], input, context),
});

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
  input_image: 'input_image',
  aspect_ratio: 'aspect_ratio',
  seed: 'seed',
  output_format: 'output_format',
};
const proParams = { ...common, safety_tolerance: 'safety_tolerance' };

/**
 * The Flux Kontext models and the block fields each takes. Source: the models' input schemas
 * (`shared/flux/catalog.ts`). Pro and Max take a safety_tolerance and write jpg or png; Dev needs an
 * input image and takes num_inference_steps, guidance and go_fast instead.
 */
export const KONTEXT_CHOICES = {
  'Flux Kontext Pro': { model: 'black-forest-labs/flux-kontext-pro', params: proParams },
  'Flux Kontext Max': { model: 'black-forest-labs/flux-kontext-max', params: proParams },
  'Flux Kontext Dev': {
    model: 'black-forest-labs/flux-kontext-dev',
    params: { ...common, num_inference_steps: 'num_inference_steps', guidance: 'guidance', go_fast: 'go_fast' },
  },
} as const satisfies ModelChoices;

type ModelName = keyof typeof KONTEXT_CHOICES;
const MODEL_NAMES = Object.keys(KONTEXT_CHOICES) as [ModelName, ...ModelName[]];
// Fields only some models take: refused with the others, so a setting is never silently dropped.
const ONLY_SOME = ['safety_tolerance', 'num_inference_steps', 'guidance', 'go_fast'];
const only = (name: string) => usedByNote(KONTEXT_CHOICES, name, true);

const inputSchema = z
  .object({
    credentials: credentialsField('replicate', 'The Replicate API key to run the model with.'),
    prompt: promptField(
      'The edit instruction: what to change in the input image (or, without one, the image to make).',
      "e.g., 'Make it a watercolor painting, keep the lighthouse'",
    ),
    input_image: field(
      imageUrl().nullish(),
      'The image to edit: an http(s) URL (such as a `result` of another block) or a data: URI; jpeg, png, gif or webp. Required by Flux Kontext Dev; without it Pro and Max generate from the prompt alone.',
      { title: 'Input Image', advanced: false },
    ),
    model: field(
      z.enum(MODEL_NAMES).default('Flux Kontext Pro'),
      `The Flux Kontext model to run on Replicate: ${MODEL_NAMES.join(', ')}.`,
      {
        title: 'Model',
        advanced: false,
      },
    ),
    aspect_ratio: field(
      z
        .enum([
          'match_input_image',
          '1:1',
          '16:9',
          '9:16',
          '4:3',
          '3:4',
          '3:2',
          '2:3',
          '4:5',
          '5:4',
          '21:9',
          '9:21',
          '2:1',
          '1:2',
        ])
        .default('match_input_image'),
      "Aspect ratio of the edited image; match_input_image keeps the input image's (1:1 without one). Flux Kontext Dev takes neither 2:1 nor 1:2.",
      { title: 'Aspect Ratio' },
    ),
    seed: seedField(),
    output_format: field(
      z.enum(['png', 'jpg', 'webp']).default('png'),
      'File format of the image. Flux Kontext Pro and Max write png or jpg only.',
      { title: 'Output Format' },
    ),
    safety_tolerance: field(
      z.number().int().min(0).max(6).nullish(),
      `Safety filter tolerance, 0 (strictest) to 6 (most permissive); at most 2 with an input image. Empty: the model's default, 2.${only('safety_tolerance')}`,
      { title: 'Safety Tolerance' },
    ),
    num_inference_steps: field(
      z.number().int().min(4).max(50).nullish(),
      `Denoising steps, 4-50: more is slower and finer. Empty: the model's default, 28.${only('num_inference_steps')}`,
      { title: 'Steps' },
    ),
    guidance: field(
      z.number().min(0).max(10).nullish(),
      `How closely the edit follows the prompt, 0-10. Empty: the model's default, 2.5.${only('guidance')}`,
      { title: 'Guidance' },
    ),
    go_fast: field(
      z.boolean().nullish(),
      `Run an optimized, slightly less exact version of the model. Empty: the model's default, true.${only('go_fast')}`,
      { title: 'Go Fast' },
    ),
  })
  .strict()
  .superRefine(refineChoice(KONTEXT_CHOICES, 'model', ONLY_SOME));

/**
 * Flux Kontext image editor: edits an image from a text instruction with Flux Kontext Pro, Max
 * or Dev on Replicate (or, with Pro and Max, makes one from text alone).
 */
export const ReplicateFluxKontextBlock = defineBlock({
  id: '54cdbfd7-092c-466d-bbd8-95738e602564',
  name: 'ReplicateFluxKontextBlock',
  title: 'Replicate Flux Kontext',
  description: 'This block edits an image from a text instruction with Flux Kontext models on Replicate.',
  categories: ['AI', 'MULTIMEDIA'],
  inputSchema,
  outputSchema: z.object(IMAGE_OUTPUTS),
  documentation: {
    whatItDoes:
      'Edits an image from a plain-language instruction ("make it night", "replace the car with a bicycle", "put the text OPEN on the sign") with Black Forest Labs\' Flux Kontext models, keeping what the instruction leaves alone. Yields the URL of the edited image and the seed it used.',
    howItWorks:
      "The block checks the input against the chosen model's own schema (Dev needs an input image; Pro and Max allow safety_tolerance up to 2 with one), picks a random seed when none is given, and sends only the parameters that model takes. It runs the prediction with the shared runner: sync wait, polling, timeout and cancellation. With aspect_ratio match_input_image the output keeps the input image's proportions.",
    useCases: [
      'Chain after an image generator: wire its `result` to `input_image` to restyle or fix the generated picture.',
      'Localize product shots: change the text on a label or the background, keeping the product as it is.',
      'Make a series of consistent images of one character by editing one reference image again and again.',
    ],
    tips: [
      'Say what to keep as well as what to change ("change the sky to sunset, keep the people as they are").',
      'Flux Kontext Pro is the balanced choice; Max follows long instructions and typography best; Dev is open-weight and tunable (steps, guidance).',
      'Replicate deletes output files after about an hour: put a Save Image block after this one.',
    ],
  },
  examples: [
    {
      title: 'Edit a small 3:2 image with Flux Kontext Pro; the output keeps its proportions',
      input: { credentials, prompt: 'Make it a watercolor painting', input_image: EXAMPLE_IMAGE, seed: 3 },
      outputs: [
        ['result', /^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.png$/],
        ['seed', 3],
      ],
    },
    {
      title: 'Flux Kontext Dev without an input image',
      input: { credentials, prompt: 'A red fox', model: 'Flux Kontext Dev' },
      outputs: [['error', 'Invalid input: input_image: is required with Flux Kontext Dev']],
    },
  ],
  pricing: choicePricing(KONTEXT_CHOICES, 'model'),
  run: (input, context) => runChoice(KONTEXT_CHOICES[input.model], input, context),
});

import { z } from 'zod';
import {
  credentialsField,
  defineBlock,
  EXAMPLE_CREDENTIALS as credentials,
  field,
  IMAGE_OUTPUTS,
  promptField,
  seedField,
} from '../sdk.js';
import { type ModelChoices, refineChoice, runChoice, usedByNote } from '../shared/flux/choices.js';
import { choicePricing } from '../shared/flux/prices.js';

const common = { prompt: 'prompt', seed: 'seed', aspect_ratio: 'aspect_ratio', output_format: 'output_format' };

/**
 * The models this block runs, by the names the AutoGPT platform block uses, and which block
 * fields reach each model under which parameter name. Source: each model's input schema
 * (`shared/flux/catalog.ts`). Flux Schnell is a 4-step distilled model: it takes no steps, guidance,
 * interval or safety_tolerance.
 */
export const MODEL_CHOICES = {
  'Flux Schnell': {
    model: 'black-forest-labs/flux-schnell',
    params: { ...common, output_quality: 'output_quality', num_outputs: 'num_outputs' },
  },
  'Flux Pro': {
    model: 'black-forest-labs/flux-pro',
    params: {
      ...common,
      output_quality: 'output_quality',
      steps: 'steps',
      guidance: 'guidance',
      interval: 'interval',
      safety_tolerance: 'safety_tolerance',
    },
  },
  'Flux Pro 1.1': {
    model: 'black-forest-labs/flux-1.1-pro',
    params: { ...common, output_quality: 'output_quality', safety_tolerance: 'safety_tolerance' },
  },
  'Flux Dev': {
    model: 'black-forest-labs/flux-dev',
    params: {
      ...common,
      output_quality: 'output_quality',
      steps: 'num_inference_steps',
      guidance: 'guidance',
      num_outputs: 'num_outputs',
    },
  },
  'Flux 1.1 Pro Ultra': {
    model: 'black-forest-labs/flux-1.1-pro-ultra',
    params: { ...common, safety_tolerance: 'safety_tolerance' },
  },
} as const satisfies ModelChoices;

type ModelName = keyof typeof MODEL_CHOICES;
const MODEL_NAMES = Object.keys(MODEL_CHOICES) as [ModelName, ...ModelName[]];
const uses = (name: string) => usedByNote(MODEL_CHOICES, name);

// Ranges are the widest of the models that use each field; the chosen model's own range is
// checked in superRefine below.
const inputSchema = z
  .object({
    credentials: credentialsField(
      'replicate',
      'The Replicate API key to run the model with: any key that may run these models.',
    ),
    prompt: promptField('Text prompt for image generation.', "e.g., 'A futuristic cityscape at sunset'"),
    replicate_model_name: field(
      z.enum(MODEL_NAMES).default('Flux Schnell'),
      `The Flux model to run on Replicate: ${MODEL_NAMES.join(', ')}.`,
      {
        title: 'Image Generation Model',
        advanced: false,
      },
    ),
    seed: seedField(),
    steps: field(z.number().int().min(1).max(50).default(25), `Number of diffusion steps, 1-50.${uses('steps')}`, {
      title: 'Steps',
    }),
    guidance: field(
      z.number().min(0).max(10).default(3),
      `How closely the image follows the prompt: higher follows it more closely at some cost to quality and diversity. 0-10; Flux Pro takes 2-5.${uses('guidance')}`,
      { title: 'Guidance' },
    ),
    interval: field(
      z.number().min(1).max(4).default(2),
      `Variance of possible outputs, 1-4: low values follow the prompt strongly with more consistent outputs.${uses('interval')}`,
      { title: 'Interval' },
    ),
    aspect_ratio: field(
      z.enum(['1:1', '16:9', '2:3', '3:2', '4:5', '5:4', '9:16', '21:9', '9:21', '3:4', '4:3']).default('1:1'),
      `Aspect ratio of the image (about 1 megapixel). Flux Pro and Flux Pro 1.1 take neither 21:9 nor 9:21.${uses('aspect_ratio')}`,
      { title: 'Aspect Ratio', placeholder: 'Choose from: 1:1, 16:9, 2:3, 3:2, 4:5, 5:4, 9:16' },
    ),
    output_format: field(
      z.enum(['webp', 'jpg', 'png']).default('webp'),
      `File format of the image. Flux 1.1 Pro Ultra makes jpg or png only.${uses('output_format')}`,
      { title: 'Output Format' },
    ),
    output_quality: field(
      z.number().int().min(0).max(100).default(80),
      `Quality of jpg and webp images, 0-100; ignored for png.${uses('output_quality')}`,
      { title: 'Output Quality' },
    ),
    safety_tolerance: field(
      z.number().int().min(1).max(6).default(2),
      `Safety filter tolerance, 1 (strictest) to 6 (most permissive).${uses('safety_tolerance')}`,
      { title: 'Safety Tolerance' },
    ),
    // Not in the AutoGPT block; without a default, so graphs saved there run unchanged.
    num_outputs: field(
      z.number().int().min(1).max(4).nullish(),
      `How many images to make from one prediction, 1-4, each yielded as a \`result\`. Empty makes one.${usedByNote(MODEL_CHOICES, 'num_outputs', true)}`,
      { title: 'Number of Images' },
    ),
  })
  .strict()
  .superRefine(refineChoice(MODEL_CHOICES, 'replicate_model_name', ['num_outputs']));

const outputSchema = z.object(IMAGE_OUTPUTS);

/**
 * Replicate Flux Advanced Model: generates images from a text prompt with a Flux model on
 * Replicate, with the tuning fields of the AutoGPT platform block of the same name (same id,
 * field names and enum values, so saved graphs port over).
 */
export const ReplicateFluxAdvancedModelBlock = defineBlock({
  id: '90f8c45e-e983-4644-aa0b-b4ebe2f531bc',
  name: 'ReplicateFluxAdvancedModelBlock',
  title: 'Replicate Flux Advanced Model',
  description: 'This block runs Flux models on Replicate with advanced settings.',
  categories: ['AI', 'MULTIMEDIA'],
  inputSchema,
  outputSchema,
  // num_outputs is 1-4: one `result` per image.
  outputsPerRun: { result: 4 },
  documentation: {
    whatItDoes:
      "Generates one or more images from a text prompt with one of Black Forest Labs' Flux models on Replicate, and yields the URL of each image and the seed it used.",
    howItWorks:
      "The block checks the input against the chosen model's own ranges, picks a random seed when none is given, and sends only the parameters that model takes, under its own names. It creates a Replicate prediction, waits for it in sync mode, polls until it ends, and cancels it on timeout or abort. Replicate's image URLs are temporary (about an hour): save or pass on the image soon.",
    useCases: [
      'Illustrate a blog post, product page or social post from text another block wrote.',
      'Produce variations of an image idea by running the same prompt with several seeds.',
      'Reproduce an earlier image exactly by feeding back its prompt, model and seed.',
    ],
    tips: [
      'Start with Flux Schnell (fast, cheap) to explore prompts; switch to Flux Pro 1.1 or Flux 1.1 Pro Ultra for the final image.',
      'Flux 1.1 Pro Ultra writes jpg or png only: set output_format to one of them.',
      'Keep the `seed` output with the image to regenerate it later.',
      'Lower safety_tolerance for public-facing output; 1 is the strictest filter.',
    ],
  },
  examples: [
    {
      title: 'Flux Schnell with defaults',
      input: {
        credentials,
        prompt: 'A beautiful landscape painting of a serene lake at sunrise',
        seed: 42,
        output_format: 'png',
      },
      outputs: [
        ['result', /^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.png$/],
        ['seed', 42],
      ],
    },
    {
      title: 'Flux Pro 1.1, wide',
      input: {
        credentials,
        prompt: 'A futuristic cityscape at sunset',
        replicate_model_name: 'Flux Pro 1.1',
        aspect_ratio: '16:9',
        seed: 7,
        output_format: 'jpg',
      },
      outputs: [
        ['result', /^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.jpg$/],
        ['seed', 7],
      ],
    },
    {
      title: "Guidance outside Flux Pro's range",
      input: { credentials, prompt: 'A red fox', replicate_model_name: 'Flux Pro', guidance: 6 },
      outputs: [['error', 'Invalid input: guidance: must be <= 5 with Flux Pro']],
    },
  ],
  pricing: choicePricing(MODEL_CHOICES, 'replicate_model_name', 'num_outputs'),
  run: (input, context) => runChoice(MODEL_CHOICES[input.replicate_model_name], input, context),
});

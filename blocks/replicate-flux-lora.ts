import { z } from 'zod';
import {
  BlockError,
  credentialsField,
  defineBlock,
  EXAMPLE_CREDENTIALS as credentials,
  field,
  IMAGE_OUTPUTS,
  imageUrl,
  promptField,
  seedField,
} from '../sdk.js';
import { type ModelChoices, refineChoice, runChoice, usedByNote } from '../shared/flux/choices.js';
import { choicePricing } from '../shared/flux/prices.js';
import {
  LORA_WEIGHTS_EXAMPLES,
  localWeightsProblem,
  loraWeightsProblem,
  MAX_LORA_WEIGHTS_LENGTH,
} from '../shared/flux/lora-weights.js';
import { DEFAULT_BASE_URL } from '../shared/replicate/types.js';

const common = {
  prompt: 'prompt',
  lora_weights: 'lora_weights',
  lora_scale: 'lora_scale',
  aspect_ratio: 'aspect_ratio',
  num_outputs: 'num_outputs',
  steps: 'num_inference_steps',
  seed: 'seed',
  output_format: 'output_format',
  output_quality: 'output_quality',
  megapixels: 'megapixels',
  go_fast: 'go_fast',
};

/**
 * The official Flux LoRA models and the block fields each takes. Source: the models' input
 * schemas (`shared/flux/catalog.ts`): Dev LoRA adds an img2img `image`, `prompt_strength` and
 * `guidance`; Schnell LoRA takes 1-4 steps. No official Kontext LoRA model was found.
 */
export const LORA_CHOICES = {
  'Flux Dev LoRA': {
    model: 'black-forest-labs/flux-dev-lora',
    params: { ...common, image: 'image', prompt_strength: 'prompt_strength', guidance: 'guidance' },
  },
  'Flux Schnell LoRA': { model: 'black-forest-labs/flux-schnell-lora', params: common },
} as const satisfies ModelChoices;

type ModelName = keyof typeof LORA_CHOICES;
const MODEL_NAMES = Object.keys(LORA_CHOICES) as [ModelName, ...ModelName[]];
const ONLY_SOME = ['image', 'prompt_strength', 'guidance'];
const only = (name: string) => usedByNote(LORA_CHOICES, name, true);

const loraWeights = z
  .string()
  .max(MAX_LORA_WEIGHTS_LENGTH)
  .trim()
  .superRefine((value, ctx) => {
    const problem = loraWeightsProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const inputSchema = z
  .object({
    credentials: credentialsField('replicate', 'The Replicate API key to run the model with.'),
    prompt: promptField(
      "Text prompt for the image. Put the LoRA's trigger word in it (see the LoRA's page), or the LoRA may have little effect.",
      "e.g., 'a castle, frstingln illustration'",
    ),
    model: field(
      z.enum(MODEL_NAMES).default('Flux Dev LoRA'),
      `The Flux LoRA model to run on Replicate: ${MODEL_NAMES.join(', ')}.`,
      { title: 'Model', advanced: false },
    ),
    lora_weights: field(
      loraWeights,
      `The LoRA to load: a Hugging Face repository or .safetensors URL, a CivitAI download URL or model page, a replicate.delivery .tar or .safetensors URL, or a Replicate model owner/model[:version]. E.g. ${LORA_WEIGHTS_EXAMPLES.join(', ')}. The Replicate Flux LoRA Trainer block's \`weights\` or \`version\` output fits here. A LoRA is trained on a trigger word (listed on its page): write it in the prompt to call up the style or subject.`,
      { title: 'LoRA Weights', advanced: false },
    ),
    lora_scale: field(
      z.number().min(-1).max(3).nullish(),
      'How strongly the LoRA is applied, -1 to 3; sane results between 0 and 1. Empty: the model default, 1.',
      { title: 'LoRA Scale' },
    ),
    image: field(
      imageUrl().nullish(),
      `Start image for image-to-image: an http(s) URL or data: URI; the output takes its aspect ratio.${only('image')}`,
      { title: 'Image' },
    ),
    prompt_strength: field(
      z.number().min(0).max(1).nullish(),
      `With an image: how much the prompt replaces it, 0-1 (1 ignores the image). Empty: 0.8.${only('prompt_strength')}`,
      { title: 'Prompt Strength' },
    ),
    guidance: field(
      z.number().min(0).max(10).nullish(),
      `How closely the image follows the prompt, 0-10. Empty: 3.${only('guidance')}`,
      { title: 'Guidance' },
    ),
    steps: field(
      z.number().int().min(1).max(50).nullish(),
      'Denoising steps: Flux Dev LoRA 1-50 (default 28), Flux Schnell LoRA 1-4 (default 4). Empty: the model default.',
      { title: 'Steps' },
    ),
    aspect_ratio: field(
      z.enum(['1:1', '16:9', '21:9', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '9:16', '9:21']).default('1:1'),
      'Aspect ratio of the image.',
      { title: 'Aspect Ratio' },
    ),
    num_outputs: field(
      z.number().int().min(1).max(4).nullish(),
      'How many images to make, 1-4, each yielded as a `result` (and each billed). Empty makes one.',
      { title: 'Number of Images' },
    ),
    megapixels: field(z.enum(['1', '0.25']).nullish(), 'Approximate size of the image in megapixels. Empty: 1.', {
      title: 'Megapixels',
    }),
    go_fast: field(
      z.boolean().nullish(),
      'Faster run with an fp8-quantized model; not deterministic even with a seed. Empty: on.',
      { title: 'Go Fast' },
    ),
    seed: seedField(),
    output_format: field(z.enum(['webp', 'jpg', 'png']).default('webp'), 'File format of the image.', {
      title: 'Output Format',
    }),
    output_quality: field(
      z.number().int().min(0).max(100).nullish(),
      'Quality of jpg and webp images, 0-100; ignored for png. Empty: 80.',
      { title: 'Output Quality' },
    ),
  })
  .strict()
  .superRefine(refineChoice(LORA_CHOICES, 'model', ONLY_SOME));

/** Flux LoRA: generates images with Flux Dev or Schnell and a LoRA loaded at run time, on Replicate. */
export const ReplicateFluxLoraBlock = defineBlock({
  id: '38b304a5-fbd5-4b44-b2fe-cae4a1074372',
  name: 'ReplicateFluxLoraBlock',
  title: 'Replicate Flux LoRA',
  description: 'This block generates images with Flux Dev or Schnell and a LoRA on Replicate.',
  categories: ['AI', 'MULTIMEDIA'],
  inputSchema,
  outputSchema: z.object(IMAGE_OUTPUTS),
  // num_outputs is 1-4: one `result` per image.
  outputsPerRun: { result: 4 },
  documentation: {
    whatItDoes:
      "Generates images from a text prompt with Black Forest Labs' Flux Dev LoRA or Flux Schnell LoRA model on Replicate, applying a LoRA (fine-tuned weights for a style or subject) loaded at run time. Yields the URL of each image and the seed it used.",
    howItWorks:
      "The block checks `lora_weights` is one of the forms the models load (Hugging Face, CivitAI, replicate.delivery or a Replicate model) before any request, checks the other fields against the chosen model's ranges, refuses fields that model does not take, picks a random seed when none is given, and runs the prediction with the shared runner.",
    useCases: [
      'Keep a brand style or character consistent across many images with a LoRA trained on it.',
      'Try a community LoRA from Hugging Face or CivitAI without training anything.',
      'Run a LoRA you trained on Replicate by its owner/model name.',
    ],
    tips: [
      "Write the LoRA's trigger word in the prompt; without it many LoRAs do little.",
      'Start with lora_scale about 0.8-1; lower it if the style overwhelms the prompt.',
      'Flux Schnell LoRA is faster and cheaper for exploring; Flux Dev LoRA gives finer images.',
      'Replicate deletes output files after about an hour: put a Save Image block after this one.',
    ],
  },
  examples: [
    {
      title: 'A Hugging Face LoRA with Flux Dev LoRA',
      input: {
        credentials,
        prompt: 'a castle on a hill, frstingln illustration',
        lora_weights: 'https://huggingface.co/alvdansen/frosting_lane_flux',
        lora_scale: 0.9,
        seed: 5,
      },
      outputs: [
        ['result', /^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.webp$/],
        ['seed', 5],
      ],
    },
    {
      title: 'A LoRA given in a form the models do not load',
      input: { credentials, prompt: 'a castle', lora_weights: 'https://example.com/my-lora.bin' },
      outputs: [['error', /^Invalid input: lora_weights: is not a LoRA the model can load; use a Hugging Face/]],
    },
  ],
  pricing: choicePricing(LORA_CHOICES, 'model', 'num_outputs'),
  async *run(input, context) {
    // A weights URL on this machine is only loadable by the local API it came from (the emulator).
    const local = localWeightsProblem(input.lora_weights, context.runner?.baseUrl ?? DEFAULT_BASE_URL);
    if (local) throw new BlockError('invalid_input', `lora_weights: ${local}`);
    yield* runChoice(LORA_CHOICES[input.model], input, context);
  },
});

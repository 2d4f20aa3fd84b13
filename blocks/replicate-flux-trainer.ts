import { z } from 'zod';
import { credentialsField, defineBlock, EXAMPLE_CREDENTIALS as credentials, field, imageUrl } from '../sdk.js';
import { callOptions, replicateClient } from '../shared/framework/replicate-client.js';
import { MAX_TRAINING_IMAGES, zipTrainingImages } from '../shared/framework/training-images.js';
import { inputSizeProblem } from '../shared/replicate/input-size.js';
import { FLUX_LORA_TRAINER, MODEL_NAME, trainVersion } from '../shared/replicate/trainings.js';

/** The trainer's inputs the block sets from its own fields; `options` may not set them again. */
const OWN_INPUTS = ['input_images', 'trigger_word', 'steps'];

const inputSchema = z
  .object({
    credentials: credentialsField(
      'replicate',
      'The Replicate API key to train with: its account must own the destination model (or may create it).',
    ),
    images_zip: field(
      z
        .string()
        .trim()
        .url()
        .refine((u) => /^https?:/i.test(u), 'must be an http(s) URL')
        .nullish(),
      'A zip of the training images (optionally with a .txt caption per image) at an http(s) URL. Give this or `images`.',
      { title: 'Images Zip', placeholder: 'https://example.com/my-photos.zip', advanced: false },
    ),
    images: field(
      z.array(imageUrl()).max(MAX_TRAINING_IMAGES).default([]),
      `The training images, 1-${MAX_TRAINING_IMAGES}: http(s) URLs, data: URIs or, on the CLI, local files. They are zipped and uploaded through Replicate's Files API. Give this or \`images_zip\`.`,
      { title: 'Images', advanced: false },
    ),
    trigger_word: field(
      z
        .string()
        .trim()
        .regex(/^[\w-]{1,64}$/, 'must be one word of letters, digits, _ or -, at most 64 characters')
        .default('TOK'),
      'A word that does not mean anything yet (e.g. TOK, ZXQ): prompts that hold it call up what was trained.',
      { title: 'Trigger Word', placeholder: 'TOK', advanced: false },
    ),
    steps: field(
      z.number().int().min(3).max(6000).default(1000),
      'Training steps, 3-6000: about 1000 suits a person or a style on 10-30 images.',
      { title: 'Steps', advanced: false },
    ),
    destination: field(
      z.string().trim().regex(MODEL_NAME, 'must be owner/name'),
      "The model that receives the trained version, `owner/name`, owned by the key's account. Created as a private model when it does not exist.",
      { title: 'Destination', placeholder: 'your-name/my-flux-lora', advanced: false },
    ),
    options: field(
      z
        .record(z.unknown())
        .superRefine((options, ctx) => {
          const own = OWN_INPUTS.filter((name) => Object.hasOwn(options, name));
          if (own.length)
            ctx.addIssue({ code: 'custom', message: `set ${own.join(', ')} with the block's own fields, not here` });
          const problem = inputSizeProblem(options);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .default({}),
      'More of the trainer\'s inputs as JSON, by its names, e.g. {"lora_rank": 32, "learning_rate": 0.0004, "autocaption": false}.',
      { title: 'Options', advanced: true },
    ),
    trainer: field(
      z.string().trim().regex(MODEL_NAME, 'must be owner/name').default(FLUX_LORA_TRAINER),
      'The trainer model, `owner/name`; its latest version trains.',
      { title: 'Trainer', advanced: true },
    ),
  })
  .strict()
  .superRefine((input, ctx) => {
    const given = Number(input.images_zip != null) + Number(input.images.length > 0);
    if (given !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['images'],
        message: given ? 'give images or images_zip, not both' : 'give the training images (images or images_zip)',
      });
  });

const outputSchema = z.object({
  version: z
    .string()
    .describe(
      'The trained version, `owner/name:version`: the `model` of the Replicate Model block, or the `lora_weights` of the Replicate Flux LoRA block, with the trigger word in the prompt.',
    ),
  weights: z
    .string()
    .describe(
      'URL of the trained LoRA weights (a tar holding the safetensors): the `lora_weights` of the Replicate Flux LoRA block.',
    ),
  error: z
    .string()
    .describe(
      'Why the training failed: invalid input, a refused destination, a failed or canceled training, or a timeout.',
    ),
});

/**
 * Replicate Flux Trainer: trains a Flux LoRA on Replicate (`ostris/flux-dev-lora-trainer` by
 * default) from a zip or a list of images, into a destination model, and yields the new version.
 */
export const ReplicateFluxTrainerBlock = defineBlock({
  id: '418e62d3-b4bf-45ca-b33f-38219eac01c9',
  name: 'ReplicateFluxTrainerBlock',
  title: 'Replicate Flux LoRA Trainer',
  // Billed by the trainer's GPU time (Replicate prices hardware per second): unknown before it runs.
  pricing: { prices: new Map([['', { model: 'the Flux LoRA trainer', usd: null, unit: 'second' }]]) },
  description: 'This block trains a Flux LoRA on Replicate from your images and yields the new model version.',
  categories: ['AI', 'MULTIMEDIA'],
  inputSchema,
  outputSchema,
  documentation: {
    whatItDoes:
      'Trains a Flux LoRA (a person, an object or a style) on Replicate from 10-30 images and yields the new version of the destination model, ready to run with the Replicate Model block.',
    howItWorks:
      "Every field is checked first. A list of images is read (private addresses refused), zipped and uploaded through the Files API; a zip URL is passed as it is. When the destination does not exist it is created as a private model (POST /v1/models), and a progress line says so. The training is created on the trainer's latest version (POST /v1/models/{trainer}/versions/{version}/trainings, never sent twice), then waited for: by webhook when the host has a webhook receiver (its verified deliveries bring progress and the end, which one GET /v1/trainings/{id} confirms; a safety poll every minute rescues a lost delivery), else by polling slowly (GET /v1/trainings/{id}, every 5 s and less often later); progress shows the step from the training's logs. Aborting the run cancels the training. See docs/training.md.",
    useCases: [
      'Train a LoRA of a product or a person, then generate it in new scenes in the same graph.',
      "Train a style from an artist's own images and apply it with a prompt holding the trigger word.",
    ],
    tips: [
      'Use 10-30 varied, sharp images; caption files (image-1.txt) in the zip improve results.',
      'Choose a trigger word that is no real word (TOK, ZXQ) and put it in every prompt of the trained version.',
      'A training bills GPU time for minutes (about 2 minutes per 1000 steps on the fast trainers); it stops when the run is aborted.',
    ],
  },
  examples: [
    {
      title: 'Train a LoRA from a zip into a new private model',
      input: {
        credentials,
        images_zip: 'https://example.com/training-images.zip',
        trigger_word: 'ZXQ',
        steps: 500,
        destination: 'my-name/my-flux-lora',
      },
      outputs: [
        ['version', /^my-name\/my-flux-lora:[0-9a-f]{64}$/],
        ['weights', /^http:\/\/127\.0\.0\.1:\d+\/weights\/[a-z2-7]+\/trained_model\.tar$/],
      ],
    },
    {
      title: 'Neither images nor a zip',
      input: { credentials, destination: 'my-name/my-flux-lora' },
      outputs: [['error', /images: give the training images \(images or images_zip\)/]],
    },
  ],
  async *run({ images_zip, images, trigger_word, steps, destination, options, trainer }, context) {
    const client = replicateClient(context);
    const zip = images_zip ?? (await zipTrainingImages(images, client, context));
    const { signal, onProgress } = callOptions(context);
    const trained = await trainVersion(
      client,
      { destination, trainer, input: { ...options, input_images: zip, trigger_word, steps } },
      { signal, onProgress, pollIntervalMs: context.runner?.pollIntervalMs },
    );
    yield ['version', trained.version];
    yield ['weights', trained.weights];
  },
});

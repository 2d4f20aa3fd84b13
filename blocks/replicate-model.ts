import { z } from 'zod';
import { credentialsField, defineBlock, EXAMPLE_CREDENTIALS as credentials, field } from '../sdk.js';
import { callOptions, replicateClient } from '../shared/framework/replicate-client.js';
import { PRICES_BY_MODEL } from '../shared/flux/prices.js';
import { inputSizeProblem } from '../shared/replicate/input-size.js';
import { resolveModel } from '../shared/replicate/resolve-model.js';

const MODEL_REF = /^(?:[\w.-]+\/[\w.-]+(?::[0-9a-f]{64})?|[0-9a-f]{64})$/;

const inputSchema = z
  .object({
    credentials: credentialsField('replicate', 'The Replicate API key to run the model with: any key that may run it.'),
    model: field(
      z
        .string()
        .trim()
        .regex(MODEL_REF, 'must be owner/name, owner/name:<64-character version id>, or a 64-character version id'),
      'The model to run: `owner/name` (an official model, or the latest version of any other), `owner/name:version`, or a bare 64-character version id.',
      { title: 'Model', placeholder: 'e.g., lucataco/flux-schnell-lora', advanced: false },
    ),
    input: field(
      z
        .record(z.unknown())
        .superRefine((input, ctx) => {
          const problem = inputSizeProblem(input);
          if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
        })
        .default({}),
      'The model\'s input as a JSON object, with the parameter names on the model\'s API page, e.g. {"prompt": "a red fox", "hf_lora": "alvdansen/frosting_lane_flux"}.',
      { title: 'Input', advanced: false },
    ),
  })
  .strict();

const outputSchema = z.object({
  result: z
    .unknown()
    .describe(
      'One item of the output: each element when the model returns a list (image URLs, text chunks), else the output itself.',
    ),
  output: z.unknown().describe("The prediction's whole output as the model returned it (JSON), after the `result`s."),
  error: z
    .string()
    .describe(
      "Why the run failed: invalid input, input the model's schema refuses, an unknown model, a Replicate API error, a failed or canceled prediction, or a timeout.",
    ),
});

/**
 * Replicate Model: runs any model on Replicate, official or community (such as Flux LoRA
 * models), with a JSON input, and yields its output. The input may hold at most 1 MiB of JSON
 * (`MAX_INPUT_JSON_BYTES`, `data:` URIs not counted): Replicate documents no limit on a create's
 * body but refuses large ones, so a larger input is an input error before any request.
 */
export const ReplicateModelBlock = defineBlock({
  id: 'f39111e1-bac6-4ed9-be5b-e08417835973',
  name: 'ReplicateModelBlock',
  title: 'Replicate Model',
  description: 'This block runs any model on Replicate with a JSON input and yields its output.',
  categories: ['AI'],
  inputSchema,
  outputSchema,
  documentation: {
    whatItDoes:
      'Runs any model on Replicate, by name or version, with the input given as a JSON object: community Flux LoRA models, upscalers, captioners, other image or text models. Yields each item of the output as `result`, then the whole output.',
    howItWorks:
      "With `owner/name` the block looks the model up (GET /v1/models/{owner}/{name}). An official model runs through its model path; any other runs by its latest version. When that version publishes its input schema, the input is checked against it first, so a misspelt value fails before a prediction is created (and billed). With `owner/name:version` or a version id it runs that version through POST /v1/predictions; Replicate checks the input. Waiting, timeout and cancellation are the shared runner's.",
    useCases: [
      'Run a community Flux LoRA model (a style or a person) that has no block of its own.',
      'Pin a model version in a graph, so a new release of the model cannot change its results.',
      'Chain a non-image model: caption a generated image, upscale it, or remove its background.',
    ],
    tips: [
      'Pin `owner/name:version` for repeatable results; `owner/name` follows the latest version.',
      'Keep the input under 1 MiB of JSON: a larger one is refused before any request, as Replicate refuses large create requests. Pass files as URLs; `data:` URIs do not count, as they are uploaded through the Files API.',
      "Copy input names from the model's API tab on replicate.com; wrong names are refused there.",
      'Wire `result` into blocks that take one value (an image URL), `output` where the whole output is wanted.',
    ],
  },
  examples: [
    {
      title: 'A community Flux LoRA model by name: its latest version is looked up',
      input: {
        credentials,
        model: 'lucataco/flux-schnell-lora',
        input: { prompt: 'a frosting lane cake', hf_lora: 'alvdansen/frosting_lane_flux', output_format: 'png' },
      },
      outputs: [
        ['result', /^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.png$/],
        ['output', /^\["http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.png"\]$/],
      ],
    },
    {
      title: "Input the model's published schema refuses",
      input: { credentials, model: 'lucataco/flux-schnell-lora', input: { prompt: 'a cake', output_format: 'gif' } },
      outputs: [
        [
          'error',
          /^Model lucataco\/flux-schnell-lora \(version 2a6b576af317\) refuses this input: input\.output_format: must be one of "webp", "jpg", "png"\./,
        ],
      ],
    },
  ],
  // Any model: official ones bill per output, others by hardware time; neither is known here.
  // Unknown before the run (any model); after it, the price of the model that ran, when known.
  pricing: {
    prices: new Map([['', { model: 'any Replicate model', usd: null, unit: 'second' }]]),
    byModel: PRICES_BY_MODEL,
  },
  async *run({ model, input }, context) {
    const client = replicateClient(context);
    const prediction = await client.run(
      { model: await resolveModel(client, model, input, context.signal), input },
      callOptions(context),
    );
    const output = prediction.output ?? null;
    for (const item of Array.isArray(output) ? output : output === null ? [] : [output]) yield ['result', item];
    yield ['output', output];
  },
});

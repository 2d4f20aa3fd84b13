import { z } from 'zod';
import { credentialsField, defineBlock, EXAMPLE_IMAGE, field, imageUrl, promptField } from '../sdk.js';
import { checkBaseUrl } from '../shared/core/http-url.js';
import { EXAMPLE_BASE_URL } from '../shared/framework/block.js';
import { openAiCallOptions, openAiClient, referenceImages } from '../shared/framework/openai-client.js';

/** The Flux models as the aggregators name them (their OpenAI-format docs). */
const FLUX_MODELS = [
  'flux-schnell',
  'flux-dev',
  'flux-pro',
  'flux-1.1-pro',
  'flux-1.1-pro-ultra',
  'flux-kontext-pro',
  'flux-kontext-max',
];
/** The only models the aggregators' edits endpoint takes. */
const EDIT_MODELS = ['flux-kontext-pro', 'flux-kontext-max'];

/**
 * The aspect ratios the aggregators' edits endpoint takes, and the size in px sent for each to
 * the generations endpoint, which takes a `size` only: Flux's own sizes at about 1 megapixel
 * (Black Forest Labs' aspect-ratio table; multiples of 32 or 64).
 */
const SIZES = {
  '21:9': '1536x640',
  '16:9': '1344x768',
  '4:3': '1152x896',
  '3:2': '1216x832',
  '1:1': '1024x1024',
  '2:3': '832x1216',
  '3:4': '896x1152',
  '9:16': '768x1344',
  '9:21': '640x1536',
} as const;
type Ratio = keyof typeof SIZES;
const RATIOS = Object.keys(SIZES) as [Ratio, ...Ratio[]];

/** The credentials field's value in this block's examples. */
const credentials = {
  provider: 'openai_compatible',
  id: 'example-openai-compatible-key',
  type: 'api_key',
  title: 'OpenAI-compatible API key',
} as const;

const inputSchema = z
  .object({
    credentials: credentialsField(
      'openai_compatible',
      'The API key of the OpenAI-compatible provider (an API aggregator or gateway) that serves Flux.',
    ),
    base_url: field(
      z.string().trim().superRefine(checkBaseUrl),
      "The provider's OpenAI-compatible base URL, ending in /v1 (requests go to {base_url}/images/generations, /images/edits or /chat/completions). The key is sent there, and only when the host lists its origin (OPENAI_COMPATIBLE_ORIGINS).",
      { title: 'Base URL', placeholder: 'https://<aggregator>/v1', advanced: false },
    ),
    api: field(
      z.enum(['images', 'chat']).default('images'),
      "Which API to ask: images (the Images API: generations, or edits when images are given) or chat (chat completions, for providers that offer Flux only there; the image links are read from the answer's text).",
      { title: 'API' },
    ),
    model: field(
      z.string().trim().min(1).max(200).default('flux-dev'),
      `The model as the provider names it, e.g. ${FLUX_MODELS.join(', ')}. Edits (with images) take ${EDIT_MODELS.join(' or ')} only.`,
      {
        title: 'Model',
        advanced: false,
        suggestions: FLUX_MODELS,
      },
    ),
    prompt: promptField(
      'Text prompt: the image to make, or what to change in the given images.',
      "e.g., 'A lighthouse on a cliff at dawn, watercolor'",
    ),
    aspect_ratio: field(
      z.enum(RATIOS).nullish(),
      `Aspect ratio of the image: ${RATIOS.join(', ')}. Generations get it as the matching size at about 1 megapixel (1344x768 for 16:9); edits get it as it is. Empty: the provider's default (1:1, or the input image's for edits). Not with size.`,
      { title: 'Aspect Ratio' },
    ),
    size: field(
      z
        .string()
        .trim()
        .regex(/^[1-9]\d{1,4}x[1-9]\d{1,4}$/, 'must be WIDTHxHEIGHT in px, e.g. 1024x768')
        .nullish(),
      'Size of the image as WIDTHxHEIGHT in px, e.g. 512x1024; edits turn it into an aspect ratio. Not with aspect_ratio.',
      { title: 'Size', placeholder: '1024x1024' },
    ),
    n: field(
      z.number().int().min(1).max(4).default(1),
      'How many images to make, 1-4, each yielded as a `result`. Chat makes one.',
      { title: 'Number of Images' },
    ),
    images: field(
      z
        .union([imageUrl(), z.array(imageUrl()).max(10)])
        .default([])
        .transform((images) => (typeof images === 'string' ? [images] : images)),
      'Reference images for an edit (Flux Kontext), one or a list of up to 10: http(s) URLs (such as the `result` of another block, linked here), data: URIs or, on the CLI, local files. With any, the edits endpoint is used; chat takes http(s) URLs only, written into the message.',
      { title: 'Images', advanced: false },
    ),
    response_format: field(
      z.enum(['url', 'b64_json']).default('url'),
      "url: the provider's links (they expire, often after an hour); b64_json: the image bytes, yielded as data: URIs. Images API only.",
      { title: 'Response Format' },
    ),
  })
  .strict()
  .superRefine((input, ctx) => {
    const refuse = (path: string, message: string) =>
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: path.split('.'), message });
    if (input.aspect_ratio && input.size) refuse('size', 'give aspect_ratio or size, not both');
    if (input.api === 'chat') {
      for (const name of ['aspect_ratio', 'size'] as const)
        if (input[name]) refuse(name, 'chat completions take no image settings: leave it empty, or use api images');
      if (input.n !== 1) refuse('n', 'chat completions make one image: set 1, or use api images');
      if (input.response_format !== 'url')
        refuse('response_format', 'chat answers hold links only: set url, or use api images');
      input.images.forEach(
        (image, i) =>
          /^https?:\/\//.test(image) || refuse(`images.${i}`, 'chat takes http(s) URLs only, written into the message'),
      );
    } else if (input.images.length && FLUX_MODELS.includes(input.model) && !EDIT_MODELS.includes(input.model)) {
      refuse('model', `edits (with images) take ${EDIT_MODELS.join(' or ')} only`);
    }
  });

const outputSchema = z.object({
  result: z
    .string()
    .describe(
      "An image: the provider's URL (temporary: often an hour), or a data: URI with response_format b64_json; yielded once per image, in order.",
    ),
  revised_prompt: z
    .string()
    .describe('The prompt the provider ran, when it answers one (once per distinct prompt, after the results).'),
  error: z
    .string()
    .describe(
      "Why the run failed: invalid input, an error of the provider's API, an answer without images, or a timeout.",
    ),
});

/**
 * Flux through an OpenAI-compatible Images API: generates or edits images with the Flux models
 * of an API aggregator or gateway that speaks OpenAI's formats, or reads them from its chat
 * completions.
 */
export const OpenAICompatibleFluxImageBlock = defineBlock({
  id: '4c1e7c1f-5d0e-4b52-9a43-2f7d6d3c8e91',
  name: 'OpenAICompatibleFluxImageBlock',
  title: 'OpenAI-compatible Flux Image',
  description:
    'This block generates or edits images with Flux models through an OpenAI-compatible Images API (API aggregators and gateways).',
  categories: ['AI', 'MULTIMEDIA'],
  inputSchema,
  outputSchema,
  // n is 1-4: one `result` per image, and a revised prompt per image at most.
  outputsPerRun: { result: 4, revised_prompt: 4 },
  // The provider sets its own prices: unknown here.
  pricing: { prices: new Map([['', { model: "the provider's Flux model", usd: null, unit: 'image' }]]) },
  documentation: {
    whatItDoes:
      "Runs Black Forest Labs' Flux models at an API aggregator or gateway that speaks OpenAI's formats: generates images from a prompt (POST /images/generations), edits reference images with Flux Kontext (POST /images/edits, multipart), or asks a Flux model through chat completions and reads the image links from its answer. Yields one `result` per image.",
    howItWorks:
      'The block checks the input first (nothing is sent when it is invalid), reads reference images (URLs with the same private-address rules as Save Image, data: URIs, or local files on the CLI) and sends them as multipart image parts. A request is sent again only when it surely made nothing: after a 429 with Retry-After, or a refused connection; never after a 5xx or a dropped connection, which may already have been billed. The whole run is bounded by the runner timeout. These APIs have no cancel: a request abandoned on timeout or abort may still be billed. b64_json answers are yielded as data: URIs.',
    useCases: [
      'Use Flux through an aggregator account you already pay for, instead of a Replicate account.',
      'Chain after the Flux Advanced block: wire its `result` to `images` to restyle the picture with Flux Kontext at another provider.',
      'Reach Flux at providers that offer it only through chat completions (api chat).',
    ],
    tips: [
      'Edits take flux-kontext-pro or flux-kontext-max; give aspect_ratio rather than size there.',
      "The provider's links expire (often after an hour): put a Save Image block after this one, or ask for b64_json.",
      "The key goes to base_url only when the host lists base_url's origin: OPENAI_COMPATIBLE_ORIGINS or --openai-compatible-origins on flux-blocks (comma-separated, e.g. https://api.aggregator.example), context.credentials.origins.openai_compatible in code. Any other base URL gets no request and an error saying so; `*` allows any origin on a public address. Private, loopback and link-local addresses need their origin listed, and redirects are never followed.",
    ],
  },
  examples: [
    {
      title: 'Generate a wide image with flux-schnell',
      input: {
        credentials,
        base_url: EXAMPLE_BASE_URL,
        model: 'flux-schnell',
        prompt: 'A lighthouse on a cliff at dawn',
        aspect_ratio: '16:9',
      },
      outputs: [['result', /^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.png$/]],
    },
    {
      title: 'Edit a small image with flux-kontext-pro, answered as b64_json',
      input: {
        credentials,
        base_url: EXAMPLE_BASE_URL,
        model: 'flux-kontext-pro',
        prompt: 'Make it a watercolor painting',
        images: [EXAMPLE_IMAGE],
        response_format: 'b64_json',
      },
      outputs: [['result', /^data:image\/png;base64,/]],
    },
    {
      title: 'Ask flux-dev through chat completions',
      input: {
        credentials,
        base_url: EXAMPLE_BASE_URL,
        api: 'chat',
        model: 'flux-dev',
        prompt: 'A red fox in the snow',
      },
      outputs: [['result', /^http:\/\/127\.0\.0\.1:\d+\/files\/[a-z2-7]+\/out-0\.png$/]],
    },
    {
      title: 'Images with a model the edits endpoint does not take',
      input: {
        credentials,
        base_url: EXAMPLE_BASE_URL,
        model: 'flux-dev',
        prompt: 'A red fox',
        images: [EXAMPLE_IMAGE],
      },
      outputs: [['error', 'Invalid input: model: edits (with images) take flux-kontext-pro or flux-kontext-max only']],
    },
  ],
  async *run(input, context) {
    const client = openAiClient(context, input.base_url);
    const options = openAiCallOptions(context);
    const { model, prompt, n, response_format } = input;
    const images =
      input.api === 'chat'
        ? await client.chat({ model, content: [...input.images, prompt].join('\n') }, options)
        : input.images.length
          ? await client.edit(
              {
                model,
                prompt,
                n,
                size: input.size ?? undefined,
                aspect_ratio: input.aspect_ratio ?? undefined,
                response_format,
                images: await referenceImages(input.images, context),
              },
              options,
            )
          : await client.generate(
              {
                model,
                prompt,
                n,
                size: input.size ?? (input.aspect_ratio ? SIZES[input.aspect_ratio] : undefined),
                response_format,
              },
              options,
            );
    for (const image of images) yield ['result', image.url];
    for (const revised of new Set(images.map((image) => image.revisedPrompt).filter((p): p is string => !!p)))
      yield ['revised_prompt', revised];
  },
});

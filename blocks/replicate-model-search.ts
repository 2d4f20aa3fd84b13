import { z } from 'zod';
import { credentialsField, defineBlock, EXAMPLE_CREDENTIALS as credentials, field } from '../sdk.js';
import { replicateClient } from '../shared/framework/replicate-client.js';
import { MAX_QUERY_LENGTH, MAX_SEARCH_LIMIT, searchModels } from '../shared/replicate/search.js';

const inputSchema = z
  .object({
    credentials: credentialsField('replicate', 'The Replicate API key to search with: any key.'),
    query: field(
      z.string().trim().min(1, 'give the words to search for').max(MAX_QUERY_LENGTH),
      'What to look for among the public models on Replicate, e.g. "flux lora" or "upscale".',
      { title: 'Query', placeholder: 'e.g., flux lora', advanced: false },
    ),
    limit: field(
      z.number().int().min(1).max(MAX_SEARCH_LIMIT).default(10),
      `Most models to yield, 1-${MAX_SEARCH_LIMIT}.`,
      { title: 'Limit', advanced: true },
    ),
  })
  .strict();

const hitSchema = z.object({
  model: z.string(),
  description: z.string(),
  runCount: z.number().optional(),
  latestVersion: z.string().optional(),
  url: z.string().optional(),
});

const outputSchema = z.object({
  model: z.string().describe('Each model found, as `owner/name`, best first: link it into the Replicate Model block.'),
  models: z
    .array(hitSchema)
    .describe('Every model found, after the `model`s: name, description, run count, latest version id, page URL.'),
  error: z.string().describe('Why the search failed: an empty query, a Replicate API error, or a timeout.'),
});

/**
 * Replicate Model Search: finds public models on Replicate by words (the search API, GET
 * /v1/search, or QUERY /v1/models where that is missing) and yields their names.
 */
export const ReplicateModelSearchBlock = defineBlock({
  id: '269f936e-5bb0-4d2f-93b2-aa14a022769b',
  name: 'ReplicateModelSearchBlock',
  title: 'Replicate Model Search',
  description: 'This block searches the public models on Replicate and yields the models found.',
  categories: ['AI'],
  inputSchema,
  outputSchema,
  documentation: {
    whatItDoes:
      'Searches the public models on Replicate for a few words and yields each model found as `owner/name`, best first, then the whole list with descriptions and run counts.',
    howItWorks:
      "Asks Replicate's search API (GET /v1/search, in beta). When the API answers that it has no search (404, e.g. an older proxy), it asks QUERY /v1/models with the words instead and keeps its first page. The query is checked before any request.",
    useCases: [
      'Find a community Flux LoRA for a style, then run it with the Replicate Model block.',
      'Let an agent pick a model for a task (upscaling, background removal) before running it.',
    ],
    tips: [
      'Link `model` into the `model` input of the Replicate Model block: it runs the latest version of each model found.',
      'Search words match names and descriptions; short, specific words find more.',
    ],
  },
  examples: [
    {
      title: 'Find Flux Schnell models',
      input: { credentials, query: 'flux schnell', limit: 2 },
      outputs: [
        ['model', 'black-forest-labs/flux-schnell'],
        ['model', 'black-forest-labs/flux-schnell-lora'],
        [
          'models',
          /^\[\{"model":"black-forest-labs\/flux-schnell",.*\},\{"model":"black-forest-labs\/flux-schnell-lora",.*\}\]$/,
        ],
      ],
    },
  ],
  async *run({ query, limit }, context) {
    const hits = await searchModels(replicateClient(context), query, { limit, signal: context.signal });
    for (const hit of hits) yield ['model', hit.model];
    yield ['models', hits];
  },
});

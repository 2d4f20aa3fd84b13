import { z } from 'zod';
import { BlockError } from '../core/errors.js';
import { formatIssues } from '../core/issues.js';
import type { ReplicateClient } from './client.js';

/** Most hits asked of a search: Replicate's `limit` on GET /v1/search is 1-50. */
export const MAX_SEARCH_LIMIT = 50;
/** Longest query sent, in characters: a search box's worth; longer is an input error. */
export const MAX_QUERY_LENGTH = 500;

/** One model a search found. */
export interface ModelHit {
  /** `owner/name`. */
  readonly model: string;
  /** The model's description, or `''`. */
  readonly description: string;
  /** How many times it has run, or undefined when the answer did not say. */
  readonly runCount?: number;
  /** Its latest version id, when the answer names one. */
  readonly latestVersion?: string;
  /** The model's page on replicate.com, when given. */
  readonly url?: string;
}

const modelEntry = z
  .object({
    owner: z.string().min(1),
    name: z.string().min(1),
    description: z.string().nullish(),
    run_count: z.number().nullish(),
    url: z.string().nullish(),
    latest_version: z.object({ id: z.string() }).passthrough().nullish(),
  })
  .passthrough();

/** GET /v1/search: `{models: [{model, metadata}], collections, ...}` (Replicate's OpenAPI spec, `search`). */
const searchAnswer = z.object({ models: z.array(z.object({ model: modelEntry }).passthrough()) }).passthrough();
/** QUERY /v1/models: a page `{results: [model], next, previous}` (`models.search`). */
const queryAnswer = z.object({ results: z.array(modelEntry) }).passthrough();

/** Options of {@link searchModels}. */
export interface SearchOptions {
  /** Most hits returned, 1-50. Default 20, as Replicate's. */
  readonly limit?: number;
  readonly signal?: AbortSignal;
}

/**
 * Searches Replicate's public models for `query`. Asks the search API first (GET
 * /v1/search?query=&limit=, in beta); when that answers 404 (an API or proxy without it), it
 * asks QUERY /v1/models with the query as a `text/plain` body, and keeps its first page.
 * @param query 1-500 characters (trimmed).
 * @returns at most `limit` hits, best first.
 * @throws {BlockError} `invalid_input` for an empty or long query or a limit outside 1-50,
 *   before any request; `bad_response` when an answer is not a list of models; the kinds of
 *   `ReplicateClient.request`.
 */
export async function searchModels(
  client: ReplicateClient,
  query: string,
  { limit = 20, signal }: SearchOptions = {},
): Promise<ModelHit[]> {
  const text = query.trim();
  if (!text) throw new BlockError('invalid_input', 'query: give the words to search for');
  if (text.length > MAX_QUERY_LENGTH)
    throw new BlockError(
      'invalid_input',
      `query: ${text.length} characters is over the ${MAX_QUERY_LENGTH}-character limit`,
    );
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT)
    throw new BlockError('invalid_input', `limit: must be a whole number from 1 to ${MAX_SEARCH_LIMIT}`);
  let models: z.infer<typeof modelEntry>[];
  try {
    const body = await client.request('search', { searchParams: { query: text, limit: String(limit) }, signal });
    models = checked(searchAnswer, body, 'GET /search', client.baseUrl).models.map((m) => m.model);
  } catch (error) {
    if (!(error instanceof BlockError && error.kind === 'not_found')) throw error;
    const body = await client.request('models', { method: 'QUERY', text, signal });
    models = checked(queryAnswer, body, 'QUERY /models', client.baseUrl).results;
  }
  return models.slice(0, limit).map(hitOf);
}

function checked<T>(schema: z.ZodType<T>, body: unknown, request: string, baseUrl: string): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new BlockError(
      'bad_response',
      `The Replicate API at ${baseUrl} answered ${request} with JSON that is not a list of models (${formatIssues(parsed.error.issues, 'body')})`,
    );
  return parsed.data;
}

function hitOf(m: z.infer<typeof modelEntry>): ModelHit {
  return {
    model: `${m.owner}/${m.name}`,
    description: m.description ?? '',
    ...(typeof m.run_count === 'number' && { runCount: m.run_count }),
    ...(m.latest_version?.id && { latestVersion: m.latest_version.id }),
    ...(m.url && { url: m.url }),
  };
}

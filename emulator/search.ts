import { Problem, type Answer } from './http.js';

/**
 * Answers GET /v1/search (`{models: [{model, metadata}], collections: [], ...}`, at most `limit`,
 * 1-50, default 20) or QUERY /v1/models (one page `{results, next, previous}`) from `models`:
 * those whose `owner/name` or description holds every word of the query, case-insensitive,
 * best (most occurrences) first.
 * @throws {Problem} 400 for an empty query or a limit outside 1-50.
 */
export function searchModels(
  models: readonly Record<string, unknown>[],
  query: string,
  limitParam: string | null,
  shape: 'search' | 'query',
): Answer {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean).slice(0, 32);
  if (!words.length) throw new Problem(400, 'Bad Request', 'The query is empty.');
  const limit = limitParam === null ? 20 : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > 50)
    throw new Problem(400, 'Bad Request', 'limit must be an integer from 1 to 50.');
  const scored = models
    .map((model) => {
      const text = `${String(model.owner)}/${String(model.name)} ${String(model.description ?? '')}`.toLowerCase();
      const counts = words.map((w) => text.split(w).length - 1);
      return { model, score: counts.every((c) => c > 0) ? counts.reduce((a, b) => a + b, 0) : 0 };
    })
    .filter((m) => m.score > 0)
    .sort((a, b) => b.score - a.score);
  if (shape === 'query')
    return { status: 200, body: { results: scored.map((m) => m.model), next: null, previous: null } };
  return {
    status: 200,
    body: {
      query,
      models: scored.slice(0, limit).map(({ model, score }) => ({
        model,
        metadata: { generated_description: String(model.description ?? ''), tags: [], score },
      })),
      collections: [],
      docs: [],
    },
  };
}

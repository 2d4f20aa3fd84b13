import type { ReplicateHttp, RunDeadline } from './http.js';
import { predictionSchema, type Prediction, type PredictionRequest } from './types.js';

/**
 * The predictions of `request`'s model (or version) whose input holds every field of
 * `request.input` with the same JSON value, created after `createdAfter` (Replicate API: GET
 * /v1/predictions?created_after=..., first page only: its newest 100), newest first. Finds a
 * prediction whose create answer was lost, to cancel it or to resume it.
 */
export async function findPredictions(
  http: ReplicateHttp,
  request: PredictionRequest,
  createdAfter: string,
  signal: AbortSignal,
  run: RunDeadline,
): Promise<Prediction[]> {
  const page = await http.ky
    .get('predictions', {
      ...http.options('idempotent', run, { signal }),
      searchParams: { created_after: createdAfter },
    })
    .json<{ results?: unknown[] }>();
  const { model, input } = request;
  return (page.results ?? [])
    .map((p) => predictionSchema.safeParse(p))
    .filter(
      ({ success, data }) =>
        success &&
        (data.model === model || data.version === model.split(':').pop()) &&
        Object.entries(input).every(([k, v]) => JSON.stringify(data.input?.[k]) === JSON.stringify(v)),
    )
    .map(({ data }) => data!);
}

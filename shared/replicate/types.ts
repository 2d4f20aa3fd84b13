import { z } from 'zod';

/** Replicate's public HTTP API. Source: `servers` in Replicate's OpenAPI spec. */
export const DEFAULT_BASE_URL = 'https://api.replicate.com/v1';

/** A run's default bound, create to terminal status (and a Save Image download), in ms: 10 minutes. */
export const DEFAULT_TIMEOUT_MS = 600_000;

/** Statuses after which a prediction never changes. `processing` is not one, even with output. */
export const TERMINAL_STATUSES = ['succeeded', 'failed', 'canceled', 'aborted'] as const;

/** A 64-character version id. */
export const VERSION_ID = /^[0-9a-f]{64}$/;

export const predictionSchema = z
  .object({
    id: z.string().min(1),
    status: z.enum(['starting', 'processing', ...TERMINAL_STATUSES]),
    model: z.string().optional(),
    version: z.string().optional(),
    input: z.record(z.unknown()).optional(),
    output: z.unknown(),
    error: z.unknown().optional(),
    data_removed: z.boolean().optional(),
    logs: z.string().nullish(),
    created_at: z.string().optional(),
    urls: z.object({ web: z.string().optional() }).passthrough().optional(),
  })
  .passthrough();

/**
 * A prediction as Replicate returns it (Replicate API: `schemas_prediction_response`); only the
 * fields the client reads are typed, the rest pass through.
 */
export type Prediction = z.infer<typeof predictionSchema>;

/** A prediction's status: `starting`, `processing`, or one of {@link TERMINAL_STATUSES}. */
export type PredictionStatus = Prediction['status'];

/** True once a prediction's status can no longer change. */
export function isTerminal(prediction: { readonly status: string }): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(prediction.status);
}

/** A prediction to run: `model` is `owner/name` (official model), `owner/name:<version>` or a bare version id. */
export interface PredictionRequest {
  readonly model: string;
  readonly input: Readonly<Record<string, unknown>>;
}

/** What the client reports while a prediction runs. `percent` (0-100) comes from the model's logs. */
export interface ProgressEvent {
  readonly predictionId: string;
  readonly status: PredictionStatus;
  readonly percent?: number;
  /** What is happening, in words, when there is more to say than the status (a training's `step 300 of 1000`). */
  readonly message?: string;
}

export const modelSchema = z
  .object({
    owner: z.string(),
    name: z.string(),
    is_official: z.boolean().optional(),
    latest_version: z
      .object({ id: z.string().min(1), openapi_schema: z.record(z.unknown()).nullish() })
      .passthrough()
      .nullish(),
  })
  .passthrough();

/** A model as Replicate describes it (Replicate API: `schemas_model_response`); only the fields read here are typed. */
export type ReplicateModel = z.infer<typeof modelSchema>;

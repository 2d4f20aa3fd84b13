import { z, type ZodTypeAny } from 'zod';

/**
 * Form hints graph editors read from an input property, beside `description`
 * (the AutoGPT platform's `SchemaField` keys).
 */
export interface FieldHints {
  /** Label shown on the form, e.g. `Guidance`. */
  readonly title: string;
  /** Example text shown in an empty field. */
  readonly placeholder?: string;
  /** `true` for tuning fields editors may fold away; `false` for those a person must see. Default true. */
  readonly advanced?: boolean;
  /** `true` only for fields that hold secrets. Default false. */
  readonly secret?: boolean;
  /** For a credentials field: the provider and credential types an editor's key picker offers. */
  readonly credentials?: { readonly provider: string; readonly types: readonly string[] };
}

const hints = new WeakMap<ZodTypeAny, FieldHints>();

/**
 * Declares one input field: its schema, what it means (`description`) and its form hints.
 * @returns `schema` with the description set; its hints are found again by {@link fieldHints}.
 */
export function field<T extends ZodTypeAny>(schema: T, description: string, fieldHints: FieldHints): T {
  const described = schema.describe(description);
  hints.set(described, fieldHints);
  return described;
}

/** The hints declared with {@link field} for this exact schema, if any. */
export function fieldHints(schema: ZodTypeAny): FieldHints | undefined {
  return hints.get(schema);
}

/**
 * The `prompt` field of the Flux blocks: trimmed, 1-10000 characters (Flux reads about the
 * first 512 tokens; the bound keeps what reaches Replicate sane).
 */
export function promptField(description: string, placeholder: string) {
  return field(z.string().trim().min(1).max(10_000), description, { title: 'Prompt', placeholder, advanced: false });
}

/** The `seed` field: an integer 0 to 4294967295 or empty, when the block picks a random one and yields it. */
export function seedField() {
  return field(
    z.number().int().min(0).max(2 ** 32 - 1).nullish(),
    'Random seed (0 to 4294967295), for reproducible images. Empty means a random seed, which the block picks, sends and yields as `seed`.',
    { title: 'Seed' },
  );
}

/**
 * An image given by URL, as Replicate takes file inputs: an http(s) URL, or a `data:` URI
 * (`data:image/png;base64,...`). Surrounding spaces are trimmed.
 */
export function imageUrl() {
  return z
    .string()
    .trim()
    .refine(
      (value) => (URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)) || /^data:image\/[\w.+-]+(;[\w=.+-]+)*(;base64)?,./.test(value),
      'must be an http(s) URL or a data:image/... URI',
    );
}

/** Outputs of a block that generates images: one `result` per image, then `seed`; or one `error`. */
export const IMAGE_OUTPUTS = {
  result: z.string().url().describe('URL of a generated image (temporary on Replicate: about an hour); yielded once per image, in order.'),
  seed: z.number().int().describe('The seed the model ran with: the given one, or the random one the block picked.'),
  error: z.string().describe('Why the run failed: invalid input, a Replicate API error, a failed or canceled prediction, or a timeout.'),
};

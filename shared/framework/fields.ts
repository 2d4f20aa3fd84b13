import { z, type RefinementCtx, type ZodTypeAny } from 'zod';
import { dataUriProblem } from '../core/data-uri.js';
import { dataUriPixelSize } from '../image/image-size.js';

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
  /** `true` for free text of several lines (a prompt): editors show a text area (JSON Schema `multiline: true`). Default false. */
  readonly multiline?: boolean;
  /** `true` only for fields that hold secrets. Default false. */
  readonly secret?: boolean;
  /** Values an editor may offer for a free-text field (JSON Schema `examples`), e.g. model names. */
  readonly suggestions?: readonly string[];
  /** For a credentials field: the provider and credential types an editor's key picker offers. */
  readonly credentials?: { readonly provider: string; readonly types: readonly string[] };
}

/** Where {@link field} keeps hints on a schema's definition, beside zod's own `description`. */
const HINTS = 'fieldHints';

type WithHints = ZodTypeAny & { _def: { [HINTS]?: FieldHints } };

/**
 * Declares one input field: its schema, what it means (`description`) and its form hints.
 * The hints live in the schema's definition, which zod copies into every schema derived from
 * it (`.min()`, `.trim()`, ...); {@link fieldHints} also looks through the wrappers zod adds
 * (`.nullish()`, `.default()`, `.refine()`), so no modifier applied later loses them.
 * @returns `schema` with the description and hints set.
 */
export function field<T extends ZodTypeAny>(schema: T, description: string, fieldHints: FieldHints): T {
  // What zod's own describe() does, with the hints beside the description.
  const Schema = schema.constructor as new (def: unknown) => T;
  return new Schema({ ...schema._def, description, [HINTS]: fieldHints });
}

/** The hints declared with {@link field} for this schema or the schema it wraps, if any. */
export function fieldHints(schema: ZodTypeAny): FieldHints | undefined {
  for (let current: ZodTypeAny | undefined = schema; current; current = innerOf(current)) {
    const found = (current as WithHints)._def[HINTS];
    if (found) return found;
  }
  return undefined;
}

/**
 * The description declared with {@link field} for this schema or the schema it wraps: zod
 * drops it on some wrappers (`.refine()`), so editors find it here.
 */
export function fieldDescription(schema: ZodTypeAny): string | undefined {
  for (let current: ZodTypeAny | undefined = schema; current; current = innerOf(current)) {
    if (current.description) return current.description;
  }
  return undefined;
}

/** The schema a zod wrapper wraps (optional, nullable, default, catch, effects, branded, readonly, pipeline), or undefined. */
function innerOf(schema: ZodTypeAny): ZodTypeAny | undefined {
  const def = schema._def as { innerType?: ZodTypeAny; schema?: ZodTypeAny; type?: ZodTypeAny; in?: ZodTypeAny };
  if (schema instanceof z.ZodEffects) return def.schema;
  if (schema instanceof z.ZodBranded) return def.type;
  if (schema instanceof z.ZodPipeline) return def.in;
  return def.innerType;
}

/**
 * The input field that names which stored API key a block uses, in the AutoGPT platform's
 * shape (`{provider, id, type: "api_key", title?}`); editors render it as a key picker for
 * `provider`. It never holds the key itself: the host resolves it and passes the secret as
 * `context.credentials.apiKey` (provider `replicate`) or `context.credentials.keys[provider]`.
 */
export function credentialsField<P extends string>(provider: P, description: string) {
  const schema = z
    .object({
      provider: z.literal(provider),
      id: z.string().min(1),
      type: z.literal('api_key'),
      title: z.string().optional(),
    })
    .strict();
  return field(schema, description, {
    title: 'Credentials',
    advanced: false,
    credentials: { provider, types: ['api_key'] },
  });
}

/**
 * The `prompt` field of the Flux blocks: trimmed, 1-10000 characters (Flux reads about the
 * first 512 tokens; the bound keeps what reaches Replicate sane).
 */
export function promptField(description: string, placeholder: string) {
  return field(z.string().trim().min(1).max(10_000), description, {
    title: 'Prompt',
    placeholder,
    advanced: false,
    multiline: true,
  });
}

/** The `seed` field: an integer 0 to 4294967295 or empty, when the block picks a random one and yields it. */
export function seedField() {
  return field(
    z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .nullish(),
    'Random seed (0 to 4294967295), for reproducible images. Empty means a random seed, which the block picks, sends and yields as `seed`.',
    { title: 'Seed' },
  );
}

/**
 * An image given by URL, as Replicate takes file inputs: an http(s) URL, or a `data:` URI
 * (`data:image/png;base64,...`) whose payload decodes (valid base64 or percent-encoding, not
 * empty). Surrounding spaces are trimmed.
 */
export function imageUrl() {
  const schema = z
    .string()
    .trim()
    .superRefine((value, ctx) => {
      if (URL.canParse(value) && /^https?:$/.test(new URL(value).protocol)) return;
      const problem = /^data:image\/[\w.+-]+(;[\w=.+-]+)*(;base64)?,./.test(value)
        ? dataUriProblem(value)
        : 'must be an http(s) URL or a data:image/... URI';
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
  // Marked so hosts that allow local files find the image inputs (see isImageInput).
  const Schema = schema.constructor as new (def: unknown) => typeof schema;
  return new Schema({ ...schema._def, [IMAGE_INPUT]: true });
}

const IMAGE_INPUT = 'imageInput';

/**
 * Whether an input property takes images made with {@link imageUrl}: `one` for a single image,
 * `many` for an array of them (or either), undefined otherwise. Looks through zod's wrappers.
 */
export function isImageInput(schema: ZodTypeAny): 'one' | 'many' | undefined {
  for (let current: ZodTypeAny | undefined = schema; current; current = innerOf(current)) {
    if ((current._def as Record<string, unknown>)[IMAGE_INPUT]) return 'one';
    if (current instanceof z.ZodArray) return isImageInput(current.element) ? 'many' : undefined;
    // One image or a list of them (`z.union([imageUrl(), z.array(imageUrl())])`).
    if (current instanceof z.ZodUnion)
      return (current.options as ZodTypeAny[]).some((option) => isImageInput(option)) ? 'many' : undefined;
  }
  return undefined;
}

/**
 * A zod `superRefine` check for a block's input that the image in `field` has the pixel size of
 * the one in `other` (a mask and its image), read from the bytes when both are `data:` URIs;
 * URLs are not fetched (refinements stay synchronous and offline). The issue names `field`.
 */
export function refineSameSize(field: string, other: string) {
  return (input: Record<string, unknown>, ctx: RefinementCtx): void => {
    const [mine, theirs] = [input[field], input[other]].map((value) =>
      typeof value === 'string' ? dataUriPixelSize(value) : undefined,
    );
    if (!mine || !theirs || (mine.width === theirs.width && mine.height === theirs.height)) return;
    const message = `is ${mine.width}x${mine.height} px but ${other} is ${theirs.width}x${theirs.height} px; it must have the same size`;
    ctx.addIssue({ code: 'custom', path: [field], message });
  };
}

/** Outputs of a block that generates images: one `result` per image, then `seed`; or one `error`. */
export const IMAGE_OUTPUTS = {
  result: z
    .string()
    .url()
    .describe('URL of a generated image (temporary on Replicate: about an hour); yielded once per image, in order.'),
  seed: z.number().int().describe('The seed the model ran with: the given one, or the random one the block picked.'),
  error: z
    .string()
    .describe(
      'Why the run failed: invalid input, a Replicate API error, a failed or canceled prediction, or a timeout.',
    ),
};

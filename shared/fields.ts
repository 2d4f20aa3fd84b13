import type { ZodTypeAny } from 'zod';

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

import { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { BLOCK_CATEGORIES, type Block } from './block.js';
import { fieldDescription, fieldHints } from './fields.js';
import { blockCosts, type BlockCost, type UnpricedChoice } from './pricing.js';

/** A JSON Schema document or subschema. */
export type JsonSchema = { [key: string]: unknown };

/**
 * What a graph editor learns about a block: the AutoGPT platform's block info shape
 * (`Block.get_info()`): identity, categories with descriptions, input and output JSON Schemas.
 */
export interface BlockInfo {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly categories: ReadonlyArray<{ readonly category: string; readonly description: string }>;
  readonly inputSchema: JsonSchema;
  readonly outputSchema: JsonSchema;
  /** Outputs depend on input: never static for these blocks. */
  readonly staticOutput: false;
  readonly uiType: 'Standard';
  readonly contributors: ReadonlyArray<{ readonly name: string }>;
  /** What a run costs, as AutoGPT block costs (per model choice and image count); empty for a block that makes no paid request. */
  readonly costs: readonly BlockCost[];
  /** The model choices whose price is unknown or known only after the run (hardware time): no cost is guessed. */
  readonly unpricedCosts: readonly UnpricedChoice[];
}

/** The object schema under any refinements (`superRefine` wraps the object in ZodEffects). */
export function shapeOf(schema: z.ZodTypeAny): z.ZodRawShape {
  let inner = schema;
  while (inner instanceof z.ZodEffects) inner = inner.innerType();
  if (!(inner instanceof z.ZodObject)) throw new Error('block schemas must be zod objects');
  return inner.shape;
}

/** `output_quality` → `Output Quality`. */
function titleOf(name: string): string {
  return name.replace(/_/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
}

/** Draft-07 JSON Schema of a zod schema, every `$ref` inlined so a form renderer needs nothing else. */
function draft07(schema: z.ZodTypeAny, title: string): JsonSchema & { properties: Record<string, JsonSchema> } {
  type ObjectSchema = JsonSchema & { properties: Record<string, JsonSchema> };
  const { $schema, ...rest } = zodToJsonSchema(schema, { target: 'jsonSchema7', $refStrategy: 'none' }) as ObjectSchema;
  return { $schema, title, ...rest };
}

/**
 * A block's input as draft-07 JSON Schema. Each property has `title`, `description`, `default`
 * where there is one, `enum` for choices, `minimum`/`maximum` for ranges, and the editor hints
 * `advanced` and `secret` (always), `placeholder`, `examples` (suggested values) and `multiline` (a text area; where declared) and, on credentials fields,
 * `credentials_provider` and `credentials_types`. Optional fields without a default are not
 * `required` and accept null: `anyOf: [X, {type: "null"}]`.
 */
export function inputJsonSchema(block: Block): JsonSchema {
  const schema = draft07(block.inputSchema, `${block.name} input`);
  const shape = shapeOf(block.inputSchema);
  for (const [name, property] of Object.entries(schema.properties)) {
    const hints = fieldHints(shape[name]!);
    const description = fieldDescription(shape[name]!);
    schema.properties[name] = {
      title: hints?.title ?? titleOf(name),
      ...property,
      // zod drops a description on some wrappers (`.refine()`); the field still has it.
      ...(property.description === undefined && description !== undefined && { description }),
      ...(hints?.placeholder !== undefined && { placeholder: hints.placeholder }),
      ...(hints?.suggestions !== undefined && { examples: [...hints.suggestions] }),
      ...(hints?.multiline === true && { multiline: true }),
      advanced: hints?.advanced ?? true,
      secret: hints?.secret ?? false,
      ...(hints?.credentials && {
        credentials_provider: [hints.credentials.provider],
        credentials_types: [...hints.credentials.types],
      }),
    };
  }
  return schema;
}

/**
 * A block's outputs (its pins) as draft-07 JSON Schema, each with `title` and `description`.
 * Nothing is `required`: a run yields some of them (`result`s and `seed`, or one `error`).
 */
export function outputJsonSchema(block: Block): JsonSchema {
  const { required: _, ...schema } = draft07(block.outputSchema, `${block.name} output`);
  for (const [name, property] of Object.entries(schema.properties)) {
    schema.properties[name] = { title: titleOf(name), ...property };
  }
  return schema;
}

/** The block's `title`, or `ReplicateFluxAdvancedModelBlock` as `Replicate Flux Advanced Model`. */
export function blockTitle(block: Block): string {
  return (
    block.title ??
    block.name
      .replace(/Block$/, '')
      .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
      .replace(
        /([a-z0-9])([A-Z])|([a-z])([0-9])/g,
        (_, a?: string, b?: string, c?: string, d?: string) => `${a ?? c} ${b ?? d}`,
      )
  );
}

/** The block's info, as in the registry's manifest and `flux-blocks schema <block>`. */
export function blockInfo(block: Block): BlockInfo {
  return {
    id: block.id,
    name: block.name,
    description: block.description,
    categories: block.categories.map((category) => ({ category, description: BLOCK_CATEGORIES[category] })),
    inputSchema: inputJsonSchema(block),
    outputSchema: outputJsonSchema(block),
    staticOutput: false,
    uiType: 'Standard',
    contributors: block.contributors ?? [],
    ...(({ costs, unpriced }) => ({ costs, unpricedCosts: unpriced }))(blockCosts(block.pricing)),
  };
}

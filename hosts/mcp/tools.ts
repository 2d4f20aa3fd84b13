import { fromJsonSchema, type StandardSchemaWithJSON, type ToolAnnotations } from '@modelcontextprotocol/server';
import { formatIssues } from 'replicate-flux-blocks/shared/core/issues.js';
import type { Block } from 'replicate-flux-blocks/shared/framework/block.js';
import { blockInfo, type JsonSchema } from 'replicate-flux-blocks/shared/framework/json-schema.js';
import { describePricing } from 'replicate-flux-blocks/shared/framework/pricing.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { isPlainObject, withCredentials } from '../environment/environment.js';

/**
 * Outputs a block may yield more than once (one `result` per image): in `structuredContent`
 * they are lists, in yield order. Every other output is yielded at most once and is a value.
 */
export const LIST_OUTPUTS: ReadonlySet<string> = new Set(['result']);

/** One block as an MCP tool: what `tools/list` shows, and the block it runs. */
export interface BlockTool {
  readonly block: Block;
  /** The block name in snake_case without `Block`, e.g. `replicate_flux_advanced_model`. */
  readonly name: string;
  /** e.g. `Replicate Flux Advanced Model`. */
  readonly title: string;
  readonly description: string;
  /** The block's input JSON Schema (draft-07) without `credentials`, checked with the block's own zod schema ({@link blockInputSchema}). */
  readonly inputSchema: StandardSchemaWithJSON<Record<string, unknown>>;
  /** The shape of `structuredContent`: each output the block may yield, {@link LIST_OUTPUTS} as lists. */
  readonly outputSchema: StandardSchemaWithJSON;
  readonly annotations: ToolAnnotations;
}

/**
 * `ReplicateFluxAdvancedModelBlock` → `replicate_flux_advanced_model`; `ReplicateFlux2Block` →
 * `replicate_flux_2`; `OpenAICompatibleFluxImageBlock` → `openai_compatible_flux_image`.
 */
export function toolName(block: Block): string {
  return words(block.name).join('_').toLowerCase();
}

/** `ReplicateFlux2Block` → `Replicate Flux 2`, `OpenAICompatibleFluxImageBlock` → `OpenAI Compatible Flux Image`. */
export function toolTitle(block: Block): string {
  return words(block.name).join(' ');
}

/** Names written as one word though their capitals would split them (`OpenAI`, not `Open AI`). */
const BRAND_WORDS = ['OpenAI'];

function words(blockName: string): string[] {
  const pattern = new RegExp(`${BRAND_WORDS.join('|')}|[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+`, 'g');
  return blockName.replace(/Block$/, '').match(pattern) ?? [blockName];
}

/** The block's input JSON Schema without the `credentials` property (nor in `required`). */
export function toolInputSchema(block: Block): JsonSchema {
  const { properties, required, ...schema } = blockInfo(block).inputSchema as JsonSchema & {
    properties: Record<string, JsonSchema>;
    required?: string[];
  };
  const { credentials: _, ...rest } = properties;
  const stillRequired = required?.filter((name) => name !== 'credentials');
  return { ...schema, properties: rest, ...(stillRequired?.length && { required: stillRequired }) };
}

/** `cost_usd` in `structuredContent`: what a call cost, when known. */
export const COST_USD: JsonSchema = {
  type: 'number',
  minimum: 0,
  description:
    "What this call cost in USD on Replicate, from its predictions (outputs, megapixels or predict_time) and the price table (docs/costs.md); absent when any part is unknown. Replicate's bill is the truth.",
};

/** The `structuredContent` JSON Schema: the block's outputs, {@link LIST_OUTPUTS} as arrays of their values. */
export function toolOutputSchema(block: Block): JsonSchema {
  const schema = blockInfo(block).outputSchema as JsonSchema & {
    title: string;
    properties: Record<string, JsonSchema>;
  };
  const properties = Object.fromEntries(
    Object.entries(schema.properties).map(([name, property]) => {
      if (!LIST_OUTPUTS.has(name)) return [name, property];
      const { title, description, ...item } = property;
      return [
        name,
        {
          title,
          type: 'array',
          items: item,
          description: `${String(description)} A list: every value in yield order.`,
        },
      ];
    }),
  );
  if (block.pricing) properties.cost_usd = COST_USD;
  return { ...schema, title: `${block.name} structuredContent`, properties };
}

/**
 * A tool's arguments: listed as {@link toolInputSchema}, checked with the block's own zod
 * input schema (credentials filled in), so a bad call is refused before the handler runs, with
 * the same message `runBlock` gives (`prompt: must not be empty; steps: must be <= 50`), naming
 * every bad field and unknown ones. A `credentials` argument is refused: the server supplies it.
 * Arguments pass on as sent; `runBlock` applies the defaults.
 */
export function blockInputSchema(block: Block): StandardSchemaWithJSON<Record<string, unknown>> {
  const json = toolInputSchema(block);
  return {
    '~standard': {
      version: 1,
      vendor: 'flux-blocks',
      jsonSchema: { input: () => json, output: () => json },
      validate: (value: unknown) => {
        if (isPlainObject(value) && value.credentials !== undefined) {
          return {
            issues: [{ message: 'credentials: the server supplies the Replicate API key; leave credentials out' }],
          };
        }
        const parsed = block.inputSchema.safeParse(withCredentials(block, value));
        return parsed.success
          ? { value: value as Record<string, unknown> }
          : { issues: [{ message: formatIssues(parsed.error.issues) }] };
      },
    },
  };
}

/**
 * The tools for every block in `registry`, schemas built once: `fromJsonSchema`'s Ajv caches
 * compiled schemas by object identity, so servers built per request (Streamable HTTP) reuse
 * these instead of compiling (and leaking) new ones.
 */
export function blockTools(registry: BlockRegistry): BlockTool[] {
  return registry.list().map((block) => ({
    block,
    name: toolName(block),
    title: toolTitle(block),
    // The price per call, so an agent can weigh a call before it bills.
    description: [block.description, block.documentation.whatItDoes, describePricing(block.pricing)]
      .filter(Boolean)
      .join(' '),
    inputSchema: blockInputSchema(block),
    outputSchema: fromJsonSchema(toolOutputSchema(block)),
    // Every block calls out (Replicate, an image URL) and makes something new; none deletes.
    annotations: {
      title: toolTitle(block),
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: true,
    },
  }));
}

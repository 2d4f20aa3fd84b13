import type { Block } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { blockInfo, type JsonSchema } from 'replicate-flux-blocks/shared/framework/json-schema.js';

/** Where the generated n8n node properties live, relative to the repo root. */
export const N8N_PROPERTIES_PATH = 'integrations/n8n/nodes/FluxBlocks/properties.generated.json';

type Schema = JsonSchema & {
  type?: string | string[];
  anyOf?: Schema[];
  enum?: unknown[];
  title?: string;
  description?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  placeholder?: string;
  advanced?: boolean;
  credentials_provider?: string[];
};

/** One n8n node property (`INodeProperties`), as plain JSON. */
export type N8nProperty = Record<string, unknown> & { name: string; type: string };

/** The blocks the n8n node offers: those that run on Replicate with the node's credential. */
export function n8nBlocks(registry: BlockRegistry): Block[] {
  return registry.list().filter((block) => {
    const credentials = (blockInfo(block).inputSchema.properties as Record<string, Schema>).credentials;
    return credentials?.credentials_provider?.includes('replicate') ?? false;
  });
}

/** The schema a nullable field stands for: `anyOf [X, null]` → X, `type [boolean, null]` → boolean. */
function inner(schema: Schema): Schema {
  const some = schema.anyOf?.find((s) => s.type !== 'null');
  if (some) return { ...schema, ...some, anyOf: undefined };
  if (Array.isArray(schema.type)) return { ...schema, type: schema.type.find((t) => t !== 'null') };
  return schema;
}

/** One JSON Schema field as an n8n property: enum → options, number → number, object/array → json. */
function property(name: string, field: Schema, required: boolean): N8nProperty {
  const schema = inner(field);
  const base = {
    displayName: schema.title ?? name,
    name,
    description: schema.description ?? '',
    ...(required ? { required: true } : {}),
    ...(schema.placeholder ? { placeholder: schema.placeholder } : {}),
  };
  if (schema.enum) {
    return {
      ...base,
      type: 'options',
      options: schema.enum.map((value) => ({ name: String(value), value })),
      default: schema.default ?? schema.enum[0],
    };
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    return {
      ...base,
      type: 'number',
      typeOptions: {
        ...(schema.minimum !== undefined ? { minValue: schema.minimum } : {}),
        ...(schema.maximum !== undefined ? { maxValue: schema.maximum } : {}),
        ...(schema.type === 'integer' ? { numberPrecision: 0 } : {}),
      },
      default: schema.default ?? schema.minimum ?? 0,
    };
  }
  if (schema.type === 'boolean') return { ...base, type: 'boolean', default: schema.default ?? false };
  if (schema.type === 'object' || schema.type === 'array') {
    return { ...base, type: 'json', default: JSON.stringify(schema.default ?? (schema.type === 'array' ? [] : {})) };
  }
  return { ...base, type: 'string', default: schema.default ?? '' };
}

/**
 * The properties of the n8n "Flux Blocks" node, from each Replicate block's input JSON Schema:
 * an `operation` selector (one option per block, value the block's name), then per operation its
 * fields (shown only for that operation), the advanced ones in an "Additional Fields" collection.
 * The `credentials` field is left out: the node's credential supplies the token.
 */
export function n8nProperties(registry: BlockRegistry): N8nProperty[] {
  const blocks = n8nBlocks(registry);
  const operation: N8nProperty = {
    displayName: 'Operation',
    name: 'operation',
    type: 'options',
    noDataExpression: true,
    options: blocks.map((block) => ({
      name: title(block.name),
      value: block.name,
      description: block.description,
      action: title(block.name),
    })),
    default: blocks[0]?.name ?? '',
  };
  const fields = blocks.flatMap((block) => {
    const input = blockInfo(block).inputSchema;
    const required = new Set(input.required as string[]);
    const show = { displayOptions: { show: { operation: [block.name] } } };
    const entries = Object.entries(input.properties as Record<string, Schema>).filter(
      ([name]) => name !== 'credentials',
    );
    const main = entries
      .filter(([, field]) => !field.advanced)
      .map(([name, field]) => ({ ...property(name, field, required.has(name)), ...show }));
    const advanced = entries.filter(([, field]) => field.advanced);
    if (advanced.length === 0) return main;
    return [
      ...main,
      {
        displayName: 'Additional Fields',
        name: 'additionalFields',
        type: 'collection',
        placeholder: 'Add Field',
        default: {},
        ...show,
        options: advanced.map(([name, field]) => property(name, field, false)),
      },
    ];
  });
  return [operation, ...fields];
}

/** `ReplicateFluxKontextBlock` → `Replicate Flux Kontext`. */
function title(name: string): string {
  return name
    .replace(/Block$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([a-z])([0-9])/g, '$1 $2');
}

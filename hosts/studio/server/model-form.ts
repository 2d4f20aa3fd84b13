// A model version's OpenAPI input schema (Cog's) as a form renders and checks it.
import type { ReplicateModel } from 'replicate-flux-blocks/shared/replicate/types.js';
import type { ImageInputs, JsonSchema, ModelForm } from '../protocol.js';

/** Most inputs a model's form shows; a model with more gets no form (its input stays JSON). */
export const MAX_FORM_INPUTS = 100;
/** Largest input schema sent to the page, in bytes of JSON (256 KiB). */
export const MAX_FORM_SCHEMA_BYTES = 256 * 1024;
/** How deep `$ref`s and nested schemas are followed; deeper is no schema the studio shows. */
const MAX_DEPTH = 8;
/** Cog inputs are Python parameters: anything else (odd names, `__proto__`) is no form field. */
const isInputName = (name: string) => /^[A-Za-z_]\w{0,99}$/.test(name) && name !== '__proto__';
/** A name or description that says the input is an image (`input_image`, `mask`, `control_img`). */
const IMAGE_WORDS = /image|img|mask|photo|picture/i;

/**
 * The form of a model as `GET /v1/models/{owner}/{name}` describes it: its latest version's
 * `openapi_schema.components.schemas.Input` with each `$ref` (Cog refers to every enum through
 * `allOf: [{$ref}]`) inlined, its inputs ordered by `x-order`, `x-` keywords dropped, and the
 * inputs that take images found. No form (a `note` instead) for a model without a version, a
 * version without an Input schema, a `$ref` outside `#/components/schemas/`, more than
 * {@link MAX_FORM_INPUTS} inputs or a schema over {@link MAX_FORM_SCHEMA_BYTES}.
 */
export function modelForm(model: ReplicateModel): ModelForm {
  const name = `${model.owner}/${model.name}`;
  const version = model.latest_version ?? undefined;
  const base = {
    model: name,
    description: typeof model.description === 'string' ? model.description : '',
    official: model.is_official === true,
    ...(version && { version: version.id }),
    imageInputs: {},
  };
  if (!version) return { ...base, note: `${name} has no published version to run` };
  try {
    const inputSchema = inputSchemaOf(version.openapi_schema ?? undefined);
    return { ...base, inputSchema, imageInputs: imageInputsOf(inputSchema) };
  } catch (error) {
    return { ...base, note: `No form for ${name}: ${(error as Error).message}; give its input as JSON` };
  }
}

/**
 * The self-contained Input schema of a version's `openapi_schema`.
 * @throws {Error} saying what is missing or over a limit.
 */
export function inputSchemaOf(openapi: Record<string, unknown> | undefined): JsonSchema {
  const schemas = (openapi?.components as { schemas?: unknown } | undefined)?.schemas;
  const input = isObject(schemas) && Object.hasOwn(schemas, 'Input') ? schemas.Input : undefined;
  if (!isObject(input) || !isObject(input.properties)) throw new Error('its version publishes no input schema');
  const entries = Object.entries(input.properties).filter(([name, p]) => isInputName(name) && isObject(p));
  if (entries.length > MAX_FORM_INPUTS)
    throw new Error(`it has ${entries.length} inputs, over the studio's limit of ${MAX_FORM_INPUTS}`);
  const order = (p: unknown) => {
    const n = (p as Record<string, unknown>)['x-order'];
    return typeof n === 'number' ? n : Infinity;
  };
  entries.sort(([, a], [, b]) => order(a) - order(b));
  const properties = Object.fromEntries(
    entries.map(([name, p]) => [name, inlined(p as JsonSchema, schemas as Record<string, unknown>, 0)]),
  );
  const names = new Set(Object.keys(properties));
  const required = Array.isArray(input.required)
    ? input.required.filter((name): name is string => typeof name === 'string' && names.has(name))
    : [];
  const schema: JsonSchema = { type: 'object', title: 'Input', required, properties };
  const bytes = Buffer.byteLength(JSON.stringify(schema));
  if (bytes > MAX_FORM_SCHEMA_BYTES)
    throw new Error(`its input schema is ${bytes} bytes, over the studio's limit of ${MAX_FORM_SCHEMA_BYTES}`);
  return schema;
}

/** `schema` with `$ref`s to `#/components/schemas/X` replaced by X, a lone `allOf` merged in, `x-` keys dropped. */
function inlined(schema: JsonSchema, schemas: Record<string, unknown>, depth: number): JsonSchema {
  if (depth > MAX_DEPTH) throw new Error(`its input schema nests deeper than ${MAX_DEPTH} levels`);
  const { $ref: ref, allOf, ...rest } = schema;
  let merged: JsonSchema = {};
  if (ref !== undefined) merged = { ...merged, ...referred(ref, schemas, depth) };
  if (Array.isArray(allOf)) {
    for (const part of allOf) if (isObject(part)) merged = { ...merged, ...inlined(part, schemas, depth + 1) };
  }
  const own: JsonSchema = {};
  for (const [key, value] of Object.entries(rest)) {
    if (key.startsWith('x-')) continue;
    own[key] =
      (key === 'items' || key === 'additionalProperties') && isObject(value)
        ? inlined(value, schemas, depth + 1)
        : key === 'properties' && isObject(value)
          ? Object.fromEntries(
              Object.entries(value)
                .filter(([name, p]) => isInputName(name) && isObject(p))
                .map(([name, p]) => [name, inlined(p as JsonSchema, schemas, depth + 1)]),
            )
          : value;
  }
  // The property's own title and default win over the enum schema's (`title: "aspect_ratio"`).
  return { ...merged, ...own };
}

function referred(ref: unknown, schemas: Record<string, unknown>, depth: number): JsonSchema {
  const name = typeof ref === 'string' ? /^#\/components\/schemas\/([^/]+)$/.exec(ref)?.[1] : undefined;
  const target = name !== undefined && Object.hasOwn(schemas, name) ? schemas[name] : undefined;
  if (!isObject(target)) throw new Error(`its input schema refers to ${String(ref)}, which it does not hold`);
  const { title: _title, description: _description, ...rest } = target;
  return inlined(rest, schemas, depth + 1);
}

/**
 * The inputs of an inlined Input schema that take an image: a `uri` string (`one`) or a list of
 * them (`many`) whose name or description speaks of an image (Cog types files as `uri` alone).
 */
export function imageInputsOf(inputSchema: JsonSchema): ImageInputs {
  const found: Record<string, 'one' | 'many'> = Object.create(null) as Record<string, 'one' | 'many'>;
  for (const [name, p] of Object.entries(inputSchema.properties as Record<string, JsonSchema>)) {
    const items = isObject(p.items) ? p.items : undefined;
    const kind =
      p.type === 'string' && p.format === 'uri'
        ? 'one'
        : p.type === 'array' && items?.format === 'uri'
          ? 'many'
          : undefined;
    const words = `${name} ${typeof p.description === 'string' ? p.description : ''}`;
    if (kind && IMAGE_WORDS.test(words)) found[name] = kind;
  }
  return found;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// A block's input JSON Schema as rjsf should render it, and the types its handles carry.
import type { RJSFSchema, UiSchema } from '@rjsf/utils';
import type { BlockInfo, ImageInputs, JsonSchema } from '../protocol.js';

/** Hint keywords of our schemas (AutoGPT's): moved into the uiSchema, not left for the validator. */
const HINTS = new Set([
  'advanced',
  'secret',
  'placeholder',
  'multiline',
  'credentials_provider',
  'credentials_types',
  'credentials_scopes',
  'image',
]);

/** A property schema with `anyOf: [X, {type: "null"}]` as X (rjsf would offer "option 1 / option 2"); an empty input then leaves the key out. */
export function unwrapNullable(property: JsonSchema): JsonSchema {
  const options = property.anyOf;
  if (!Array.isArray(options)) return property;
  const others = (options as JsonSchema[]).filter((option) => option.type !== 'null');
  if (others.length !== 1 || others.length === options.length) return property;
  const { anyOf: _anyOf, default: fallback, ...rest } = property;
  return { ...others[0], ...rest, ...(fallback !== null && fallback !== undefined && { default: fallback }) };
}

/** The schema and uiSchema rjsf renders for a block's input, with the names of its advanced fields. */
export interface FormSchema {
  readonly schema: RJSFSchema;
  readonly uiSchema: UiSchema;
}

const forms = new WeakMap<JsonSchema, FormSchema>();

/**
 * rjsf's view of an input schema: nullable fields unwrapped; `placeholder` as ui:placeholder,
 * `secret` as a password widget, the credentials field as the key picker, `advanced` as a
 * ui option the form folds; `multiline` as a text area; free-form objects as a JSON text area;
 * image inputs (`images`, by name, or an `image` hint of `one` or `many` on the field) as the
 * image picker, a list of them as a list of pickers (one image or a list becomes a list); an
 * object with properties (a model's input form) as its fields, each treated the same. Cached per schema.
 */
export function toForm(input: JsonSchema, images: ImageInputs = {}): FormSchema {
  const cached = forms.get(input);
  if (cached) return cached;
  const fields = fieldsOf((input.properties ?? {}) as Record<string, JsonSchema>, images);
  const uiSchema: UiSchema = { 'ui:submitButtonOptions': { norender: true }, ...fields.uiSchema };
  // The node's header names the block, so the schema's own title ("X input") goes.
  const { $schema: _schema, title: _title, ...top } = input;
  const form = { schema: { ...top, properties: fields.properties } as RJSFSchema, uiSchema };
  forms.set(input, form);
  return form;
}

/** The properties of an object schema as rjsf renders them, and their uiSchema (see {@link toForm}). */
function fieldsOf(
  given: Record<string, JsonSchema>,
  images: ImageInputs,
): { properties: Record<string, JsonSchema>; uiSchema: UiSchema } {
  // Entries, then fromEntries: a model's input names come from its schema, and none may reach a prototype.
  const properties: Array<[string, JsonSchema]> = [];
  const uiSchema: Array<[string, UiSchema]> = [];
  for (const [name, raw] of Object.entries(given)) {
    let property = unwrapNullable(raw);
    let ui: Record<string, unknown> = { 'ui:options': { advanced: raw.advanced === true } };
    if (typeof raw.placeholder === 'string') ui['ui:placeholder'] = raw.placeholder;
    if (raw.secret === true) ui['ui:widget'] = 'password';
    if (raw.multiline === true) ui['ui:widget'] = 'textarea';
    const image = Object.hasOwn(images, name) ? images[name] : imageHint(raw.image);
    if (image === 'one') ui['ui:widget'] = 'image';
    if (image === 'many') {
      property = listOf(property);
      ui.items = { 'ui:widget': 'image' };
    }
    if (raw.credentials_provider) ui['ui:field'] = 'credentials';
    else if (property.type === 'object' && property.properties) {
      const nested = fieldsOf(property.properties as Record<string, JsonSchema>, {});
      property = { ...property, properties: nested.properties };
      ui = { ...ui, ...nested.uiSchema };
    } else if (property.type === 'object') ui['ui:field'] = 'json';
    properties.push([name, Object.fromEntries(Object.entries(property).filter(([key]) => !HINTS.has(key)))]);
    uiSchema.push([name, ui]);
  }
  return { properties: Object.fromEntries(properties), uiSchema: Object.fromEntries(uiSchema) as UiSchema };
}

const imageHint = (hint: unknown) => (hint === 'one' || hint === 'many' ? hint : undefined);

/** `anyOf: [string, array<string>]` (one image or a list) as the list: the form offers no "option 1 / option 2". */
function listOf(property: JsonSchema): JsonSchema {
  const list = (property.anyOf as JsonSchema[] | undefined)?.find((option) => option.type === 'array');
  if (!list) return property;
  const { anyOf: _anyOf, ...rest } = property;
  return { ...list, ...rest };
}

/** The input schema without the linked inputs in `required`: their values come over links. */
export function withLinked(schema: RJSFSchema, linked: readonly string[]): RJSFSchema {
  return { ...schema, required: (schema.required ?? []).filter((name) => !linked.includes(name)) };
}

/** A handle's type for connection checks: `string`, `integer`, `array<string>`, ... or `any` when untyped. */
export function portType(property: JsonSchema | undefined): string {
  if (!property) return 'any';
  const schema = unwrapNullable(property);
  if (schema.type === 'array') return `array<${portType(schema.items as JsonSchema | undefined)}>`;
  return typeof schema.type === 'string' ? schema.type : 'any';
}

/** Whether an output of type `output` may feed an input of type `input`: equal, integer into number, an item into a list, or either untyped. */
export function compatible(output: string, input: string): boolean {
  return (
    output === 'any' ||
    input === 'any' ||
    output === input ||
    (output === 'integer' && input === 'number') ||
    input === `array<${output}>` ||
    input === 'array<any>'
  );
}

/** The block's input defaults (non-null), the values a new node starts with. */
export function defaultsOf(block: BlockInfo): Record<string, unknown> {
  const properties = (block.inputSchema.properties ?? {}) as Record<string, JsonSchema>;
  return Object.fromEntries(
    Object.entries(properties)
      .filter(([, p]) => p.default !== undefined && p.default !== null)
      .map(([name, p]) => [name, p.default]),
  );
}

/** The block as people read it: its title (`OpenAI-compatible Flux Image`), not its class name. */
export function titleOf(block: BlockInfo): string {
  return block.title;
}

/** An input's or output's label: its schema's `title` (`Input Image`), else its name. */
export function labelOf(name: string, property: JsonSchema | undefined): string {
  return typeof property?.title === 'string' && property.title ? property.title : name;
}

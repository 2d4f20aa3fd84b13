// The any-model node (Replicate Model): which model it names, and its form once that model's input schema is known.
import { ANY_MODEL_BLOCK, type BlockInfo, type ImageInputs, type JsonSchema, type ModelForm } from '../protocol.js';

/** The field holding the model's input, which the model's form replaces. */
const INPUT = 'input';

/** Whether the node's block is the any-model block. */
export const isAnyModel = (block: BlockInfo): boolean => block.name === ANY_MODEL_BLOCK;

/**
 * The `owner/name` whose form the node can show: its `model` value when it is one. A pinned
 * version (`owner/name:version`, a bare version id) gets no form: its input stays JSON, and
 * Replicate checks it.
 */
export function modelRefOf(values: Record<string, unknown>): string | undefined {
  const model = typeof values.model === 'string' ? values.model.trim() : '';
  return /^[\w.-]{1,100}\/[\w.-]{1,100}$/.test(model) ? model : undefined;
}

const schemas = new WeakMap<ModelForm, JsonSchema>();

/**
 * What a node's form renders and checks: the block's input schema, or, for the any-model node
 * whose model's form is loaded (`form`, for the model it names) and whose `input` is not linked,
 * the block's schema with `input` replaced by the model's Input schema, image inputs marked
 * with the `image` hint. One schema object per form, so the form's cache holds.
 */
export function nodeInputOf(
  block: BlockInfo,
  values: Record<string, unknown>,
  form: ModelForm | undefined,
  linked: readonly string[],
): { inputSchema: JsonSchema; imageInputs: ImageInputs } {
  const plain = { inputSchema: block.inputSchema, imageInputs: block.imageInputs };
  if (!isAnyModel(block) || !form?.inputSchema || form.model !== modelRefOf(values) || linked.includes(INPUT))
    return plain;
  let schema = schemas.get(form);
  if (!schema) {
    const blockProperties = (block.inputSchema.properties ?? {}) as Record<string, JsonSchema>;
    const modelProperties = (form.inputSchema.properties ?? {}) as Record<string, JsonSchema>;
    const marked = Object.fromEntries(
      Object.entries(modelProperties).map(([name, p]) => {
        const image = Object.hasOwn(form.imageInputs, name) ? form.imageInputs[name] : undefined;
        return [name, image ? { ...p, image } : p];
      }),
    );
    const own = blockProperties[INPUT] ?? {};
    schema = {
      ...block.inputSchema,
      properties: {
        ...blockProperties,
        [INPUT]: {
          ...form.inputSchema,
          properties: marked,
          title: own.title ?? 'Input',
          description: `The input of ${form.model}, from its published schema${form.version ? ` (version ${form.version.slice(0, 12)})` : ''}.`,
          default: {},
        },
      },
    };
    schemas.set(form, schema);
  }
  return { inputSchema: schema, imageInputs: block.imageInputs };
}

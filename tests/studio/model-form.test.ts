import { describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { toForm } from '../../hosts/studio/app/form-schema.js';
import { nodeInputOf } from '../../hosts/studio/app/model-input.js';
import { studioBlocks } from '../../hosts/studio/server/blocks.js';
import { MAX_FORM_INPUTS, modelForm } from '../../hosts/studio/server/model-form.js';
import type { ModelForm } from '../../hosts/studio/protocol.js';

// Issue 28: a model's published input schema (Cog's OpenAPI) as the any-model node's form, and its checks.
const anyModel = studioBlocks(createRegistry()).find((b) => b.name === 'ReplicateModelBlock')!;
const VERSION = 'a'.repeat(64);

/** A model answer as GET /v1/models/{owner}/{name} gives it, with `schemas` as its components. */
function model(schemas: Record<string, unknown>, name = 'someone/painter') {
  const [owner, model] = name.split('/');
  return {
    owner: owner!,
    name: model!,
    description: 'Paints',
    is_official: false,
    latest_version: { id: VERSION, openapi_schema: { openapi: '3.0.2', components: { schemas } } },
  };
}

const COG = {
  Input: {
    type: 'object',
    title: 'Input',
    required: ['prompt', '__proto__'],
    properties: {
      steps: { type: 'integer', minimum: 1, maximum: 50, default: 28, title: 'Steps', 'x-order': 2 },
      prompt: { type: 'string', title: 'Prompt', 'x-order': 0 },
      style: { allOf: [{ $ref: '#/components/schemas/style' }], default: 'ink', title: 'Style', 'x-order': 1 },
      control_image: { type: 'string', format: 'uri', title: 'Control Image', 'x-order': 3 },
      weights: { type: 'string', format: 'uri', description: 'LoRA weights', 'x-order': 4 },
      refs: { type: 'array', items: { type: 'string', format: 'uri' }, description: 'Reference images', 'x-order': 5 },
      ['__proto__']: { type: 'string', 'x-order': 6 },
    },
  },
  style: { title: 'style', description: 'An enumeration.', type: 'string', enum: ['ink', 'oil'] },
};

describe("a model's form from its version's openapi_schema", () => {
  test('inputs in x-order, enums inlined, image inputs found by name or description; __proto__ is no input', () => {
    const form = modelForm(model(JSON.parse(JSON.stringify(COG)) as Record<string, unknown>));
    expect(form).toMatchObject({ model: 'someone/painter', official: false, version: VERSION });
    const properties = form.inputSchema!.properties as Record<string, Record<string, unknown>>;
    expect(Object.keys(properties)).toEqual(['prompt', 'style', 'steps', 'control_image', 'weights', 'refs']);
    expect(properties.style).toEqual({ type: 'string', enum: ['ink', 'oil'], default: 'ink', title: 'Style' });
    expect(form.inputSchema!.required).toEqual(['prompt']);
    expect(form.imageInputs).toEqual({ control_image: 'one', refs: 'many' });
  });

  test('a $ref it does not hold, too many inputs or no Input schema: no form, a note saying why', () => {
    const dangling = { Input: { type: 'object', properties: { a: { $ref: '#/components/schemas/Gone' } } } };
    expect(modelForm(model(dangling))).toMatchObject({
      note: 'No form for someone/painter: its input schema refers to #/components/schemas/Gone, which it does not hold; give its input as JSON',
    });
    expect(modelForm(model(dangling)).inputSchema).toBeUndefined();
    const many = Object.fromEntries(
      Array.from({ length: MAX_FORM_INPUTS + 1 }, (_, i) => [`in${i}`, { type: 'string' }]),
    );
    expect(modelForm(model({ Input: { type: 'object', properties: many } })).note).toMatch(
      `it has ${MAX_FORM_INPUTS + 1} inputs, over the studio's limit of ${MAX_FORM_INPUTS}`,
    );
    expect(modelForm(model({ Output: { type: 'string' } })).note).toMatch(/its version publishes no input schema/);
  });

  test("the node's input becomes the model's form: its image inputs get the picker", () => {
    const form = modelForm(model(JSON.parse(JSON.stringify(COG)) as Record<string, unknown>)) as ModelForm;
    const values = { model: 'someone/painter', input: { steps: 80 } };
    const { inputSchema, imageInputs } = nodeInputOf(anyModel, values, form, []);
    const { uiSchema } = toForm(inputSchema, imageInputs);
    const input = uiSchema.input as Record<string, Record<string, unknown>>;
    expect(input.control_image!['ui:widget']).toBe('image');
    expect(input.refs!.items).toEqual({ 'ui:widget': 'image' });
    const properties = (inputSchema.properties as Record<string, Record<string, unknown>>).input!;
    expect(properties).toMatchObject({ type: 'object', required: ['prompt'], title: 'Input' });
    // Another model named, a pinned version, or the input linked: the block's own JSON input.
    for (const [other, linked] of [
      [{ ...values, model: 'someone/else' }, []],
      [{ ...values, model: `someone/painter:${VERSION}` }, []],
      [values, ['input']],
    ] as const)
      expect(nodeInputOf(anyModel, other, form, linked).inputSchema).toBe(anyModel.inputSchema);
  });
});

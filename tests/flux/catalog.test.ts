import { describe, expect, test } from '@jest/globals';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { FLUX_2_CHOICES } from '../../blocks/replicate-flux-2.js';
import { MODEL_CHOICES, ReplicateFluxAdvancedModelBlock } from '../../blocks/replicate-flux-advanced.js';
import { FILL_CHOICES } from '../../blocks/replicate-flux-fill.js';
import { KONTEXT_CHOICES } from '../../blocks/replicate-flux-kontext.js';
import { LORA_CHOICES } from '../../blocks/replicate-flux-lora.js';
import { MODELS, type ModelSpec, type ParamSpec } from '../../shared/flux/catalog.js';
import { type ModelChoices } from '../../shared/flux/choices.js';
import { fixture } from '../helpers.js';

interface FactModel {
  output: string;
  inputs: Record<string, ParamSpec & { description?: string }>;
}
const facts = fixture<{ models: Record<string, FactModel>; versions: Record<string, FactModel> }>('flux-models.json');

describe('the model catalog matches flux-models.json', () => {
  test.each(Object.keys(MODELS))('%s', (ref) => {
    const fact = facts.models[ref] ?? facts.versions[ref];
    expect(fact).toBeDefined();
    const spec = MODELS[ref as keyof typeof MODELS];
    expect(spec.output).toBe(fact!.output === 'array of URIs' ? 'list' : 'single');
    const withoutDescriptions = Object.fromEntries(
      Object.entries(fact!.inputs).map(([name, { description: _, ...param }]) => [name, param]),
    );
    expect(spec.inputs).toEqual(withoutDescriptions);
  });
});

describe.each<[string, ModelChoices]>([
  ['Advanced', MODEL_CHOICES],
  ['Kontext', KONTEXT_CHOICES],
  ['Fill', FILL_CHOICES],
  ['Flux 2', FLUX_2_CHOICES],
  ['LoRA', LORA_CHOICES],
])("the Flux %s block's choices", (_, choices) => {
  test('every parameter it maps is an input of that model, and every required input is mapped', () => {
    for (const { model, params } of Object.values(choices)) {
      const inputs: ModelSpec['inputs'] = MODELS[model].inputs;
      expect([model, Object.values(params).filter((param) => !(param in inputs))]).toEqual([model, []]);
      const required = Object.entries(inputs)
        .filter(([, spec]) => spec.required)
        .map(([name]) => name);
      expect([model, required.filter((name) => !Object.values(params).includes(name))]).toEqual([model, []]);
    }
  });
});

describe('the Flux Advanced block against the catalog', () => {
  const properties = (
    zodToJsonSchema(ReplicateFluxAdvancedModelBlock.inputSchema) as {
      properties: Record<string, Record<string, unknown>>;
    }
  ).properties;
  const choices = Object.values(MODEL_CHOICES);

  test('every parameter it maps is an input of that model', () => {
    for (const { model, params } of choices) {
      expect(Object.values(params).filter((param) => !(param in MODELS[model].inputs))).toEqual([]);
    }
  });

  test('model names map to the Black Forest Labs models', () => {
    expect(Object.fromEntries(Object.entries(MODEL_CHOICES).map(([name, c]) => [name, c.model]))).toEqual({
      'Flux Schnell': 'black-forest-labs/flux-schnell',
      'Flux Pro': 'black-forest-labs/flux-pro',
      'Flux Pro 1.1': 'black-forest-labs/flux-1.1-pro',
      'Flux Dev': 'black-forest-labs/flux-dev',
      'Flux 1.1 Pro Ultra': 'black-forest-labs/flux-1.1-pro-ultra',
    });
  });

  const mapped = [...new Set(choices.flatMap((c) => Object.keys(c.params)))].filter(
    (f) => !['prompt', 'seed'].includes(f),
  );
  test.each(mapped)('%s keeps the widest range or enum of the models that use it, and names them', (field) => {
    const catalog: Record<string, ModelSpec> = MODELS;
    const specs = choices
      .map(({ model, params }) => catalog[model]!.inputs[(params as Record<string, string>)[field] ?? ''])
      .filter((spec): spec is ParamSpec => spec !== undefined);
    // A field without a default is nullable: its range sits in the non-null branch.
    const declared = properties[field]!;
    const property =
      (declared.anyOf as Array<Record<string, unknown>> | undefined)?.find((s) => s.type !== 'null') ?? declared;
    property.description ??= declared.description;
    if (specs[0]!.enum) {
      const union = new Set(specs.flatMap((s) => s.enum!).filter((v) => v !== 'custom'));
      expect(new Set(property.enum as string[])).toEqual(union);
    } else {
      expect(property.minimum).toBe(Math.min(...specs.map((s) => s.minimum!)));
      expect(property.maximum).toBe(Math.max(...specs.map((s) => s.maximum!)));
    }
    const using = Object.entries(MODEL_CHOICES)
      .filter(([, choice]) => field in choice.params)
      .map(([name]) => name);
    const usedBy = /(?:Used by|Only for) (.+?)(?:; not sent|: the other|\.$)/.exec(String(property.description))?.[1];
    if (using.length === choices.length) expect(usedBy).toBe('every model');
    else expect(usedBy?.split(', ').map((name) => name.replace(/ \(as \w+\)$/, ''))).toEqual(using);
  });
});

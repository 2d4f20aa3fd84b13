import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { artifacts } from '../../tools/scripts/artifacts.js';
import { blockInfo, type JsonSchema } from '../../index.js';
import { newAjv as ajvWithFormats, ROOT } from '../helpers.js';

const registry = createRegistry();
const blocks = registry.list();
// The editor hints are annotations; declaring them keeps ajv strict about every other keyword.
const HINTS = ['placeholder', 'advanced', 'secret', 'multiline', 'credentials_provider', 'credentials_types'];
const newAjv = () => ajvWithFormats({ strict: true }).addVocabulary(HINTS);

describe('generated files are up to date (npm run schemas, npm run docs)', () => {
  const expected = artifacts(registry);

  test.each([...expected.keys()])('%s', async (path) => {
    const onDisk = await readFile(join(ROOT, path), 'utf8').catch(
      () => 'missing: run npm run schemas and npm run docs',
    );
    expect(onDisk).toBe(expected.get(path));
  });

  test('schemas/ holds no file the code does not generate', async () => {
    const files = (await readdir(join(ROOT, 'schemas'))).map((f) => `schemas/${f}`);
    expect(files.sort()).toEqual([...expected.keys()].filter((p) => p.startsWith('schemas/')).sort());
  });
});

describe.each(blocks.map((b) => [b.name, b] as const))('%s', (_, block) => {
  const info = blockInfo(block);
  const input = info.inputSchema as JsonSchema & { properties: Record<string, JsonSchema>; required: string[] };
  const output = info.outputSchema as JsonSchema & { properties: Record<string, JsonSchema> };

  test('input and output schemas are valid draft-07 JSON Schema, with no $ref', () => {
    for (const schema of [input, output]) {
      const ajv = newAjv();
      expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
      expect(ajv.validateSchema(schema)).toBe(true);
      expect(() => ajv.compile(schema)).not.toThrow();
      expect(JSON.stringify(schema)).not.toContain('$ref');
    }
  });

  test('every declared example input validates against the input schema', () => {
    const validate = newAjv().compile(input);
    expect(block.examples.length).toBeGreaterThan(0);
    for (const example of block.examples) {
      expect([example.title, validate(example.input), validate.errors ?? []]).toEqual([example.title, true, []]);
    }
  });

  test('the schema check refuses bad input (control)', () => {
    const validate = newAjv().compile(input);
    expect(validate({ ...block.examples[0]!.input, unknown_field: 1 })).toBe(false);
    expect(validate({})).toBe(false);
  });

  test('every input property has a title, description and the editor hints', () => {
    for (const [name, property] of Object.entries(input.properties)) {
      expect([name, typeof property.title, typeof property.description]).toEqual([name, 'string', 'string']);
      expect([name, typeof property.advanced, property.secret]).toEqual([name, 'boolean', false]);
    }
  });

  test('optional fields without a default accept null and are not required', () => {
    for (const [name, property] of Object.entries(input.properties)) {
      if (input.required.includes(name) || 'default' in property) continue;
      // zod-to-json-schema writes a nullable primitive as a type list, anything else as anyOf.
      const nullable = Array.isArray(property.type)
        ? property.type.includes('null')
        : (property.anyOf as JsonSchema[] | undefined)?.some((s) => s.type === 'null');
      expect([name, nullable]).toEqual([name, true]);
    }
  });

  test('outputs have titles and descriptions, error last; none is required; image blocks yield result (a URI) and seed', () => {
    expect(Object.keys(output.properties).at(-1)).toBe('error');
    for (const property of Object.values(output.properties))
      expect([typeof property.title, typeof property.description]).toEqual(['string', 'string']);
    expect(output.required).toBeUndefined();
    // The trainer makes a model version, not images.
    if (block.name.startsWith('ReplicateFlux') && block.name !== 'ReplicateFluxTrainerBlock') {
      expect(Object.keys(output.properties)).toEqual(['result', 'seed', 'error']);
      expect(output.properties.result).toMatchObject({ title: 'Result', type: 'string', format: 'uri' });
    }
  });
});

test("the Flux block's input schema has the fields, ranges, choices and hints editors need", () => {
  const flux = blockInfo(registry.get('ReplicateFluxAdvancedModelBlock')!).inputSchema as JsonSchema & {
    properties: Record<string, JsonSchema>;
  };
  const p = flux.properties;
  expect(Object.keys(p)).toEqual([
    'credentials',
    'prompt',
    'replicate_model_name',
    'seed',
    'steps',
    'guidance',
    'interval',
    'aspect_ratio',
    'output_format',
    'output_quality',
    'safety_tolerance',
    'num_outputs',
  ]);
  expect(flux.required).toEqual(['credentials', 'prompt']);
  expect(flux.additionalProperties).toBe(false);
  expect(p.prompt).toMatchObject({
    title: 'Prompt',
    type: 'string',
    placeholder: expect.stringContaining('cityscape'),
    advanced: false,
  });
  expect(p.replicate_model_name).toMatchObject({
    enum: ['Flux Schnell', 'Flux Pro', 'Flux Pro 1.1', 'Flux Dev', 'Flux 1.1 Pro Ultra'],
    default: 'Flux Schnell',
    advanced: false,
  });
  expect(p.credentials).toMatchObject({
    advanced: false,
    secret: false,
    credentials_provider: ['replicate'],
    credentials_types: ['api_key'],
  });
  // The credentials field names stored credentials; it has no place for the key itself.
  expect(Object.keys(p.credentials!.properties as object)).toEqual(['provider', 'id', 'type', 'title']);
  expect(p.seed).toMatchObject({
    anyOf: [{ type: 'integer', minimum: 0, maximum: 4294967295 }, { type: 'null' }],
    advanced: true,
  });
  expect(p.steps).toMatchObject({ type: 'integer', minimum: 1, maximum: 50, default: 25, advanced: true });
  expect(p.guidance).toMatchObject({ type: 'number', minimum: 0, maximum: 10, default: 3 });
  expect(p.interval).toMatchObject({ minimum: 1, maximum: 4, default: 2 });
  expect(p.aspect_ratio).toMatchObject({
    default: '1:1',
    enum: expect.arrayContaining(['1:1', '16:9', '2:3', '3:2', '4:5', '5:4', '9:16']),
  });
  expect(p.output_format).toMatchObject({ enum: ['webp', 'jpg', 'png'], default: 'webp' });
  expect(p.output_quality).toMatchObject({ minimum: 0, maximum: 100, default: 80 });
  expect(p.safety_tolerance).toMatchObject({ minimum: 1, maximum: 6, default: 2 });
});

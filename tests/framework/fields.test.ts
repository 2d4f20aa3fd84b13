import { describe, expect, test } from '@jest/globals';
import { z } from 'zod';
import { createRegistry } from '../../blocks/index.js';
import { blockInfo, runBlock, ReplicateFluxAdvancedModelBlock } from '../../index.js';
import { field } from '../../sdk.js';
import { fieldDescription, fieldHints } from '../../shared/framework/fields.js';

describe('form hints travel with the schema whatever is applied after field()', () => {
  const hints = { title: 'Beta', advanced: false, placeholder: 'b' };
  const declared = field(z.string(), 'The beta value.', hints);
  test.each<[string, z.ZodTypeAny]>([
    ['as declared', declared],
    ['.nullish()', declared.nullish()],
    ['.optional().nullable()', declared.optional().nullable()],
    ['.default()', declared.default('x')],
    ['.min() (a new schema of the same type)', (declared as z.ZodString).min(2)],
    ['.refine()', declared.refine((v) => v !== 'no')],
    ['.trim().nullish().default()', (declared as z.ZodString).trim().nullish().default(null)],
    ['.brand().optional()', declared.brand('Beta').optional()],
  ])('%s', (_, schema) => {
    expect(fieldHints(schema)).toEqual(hints);
    expect(fieldDescription(schema)).toBe('The beta value.');
  });

  test('a schema never declared has no hints', () => {
    expect(fieldHints(z.string().nullish())).toBeUndefined();
  });
});

describe('every input property of every registered block, in its generated JSON Schema', () => {
  const rows = createRegistry()
    .list()
    .flatMap((block) => {
      const { properties } = blockInfo(block).inputSchema as { properties: Record<string, Record<string, unknown>> };
      return Object.entries(properties).map(([name, property]) => [`${block.name}.${name}`, property] as const);
    });
  test('there are properties to check', () => expect(rows.length).toBeGreaterThan(40));
  test.each(rows)('%s has a title, a description and a boolean advanced', (_, property) => {
    expect(typeof property.title === 'string' && property.title.length > 1).toBe(true);
    expect(typeof property.description === 'string' && property.description.length > 10).toBe(true);
    expect(typeof property.advanced).toBe('boolean');
  });
});

describe("block inputs are typed by the block's input schema", () => {
  test('a misspelt or mistyped field does not compile (checked by npm run typecheck)', async () => {
    // The lines below must fail to type-check; ts-expect-error fails the type-check if they compile.
    // @ts-expect-error promt is not a field, and prompt is missing
    const misspelt = runBlock(ReplicateFluxAdvancedModelBlock, { promt: 123 });
    const credentials = { provider: 'replicate', id: 'k', type: 'api_key' } as const;
    // @ts-expect-error steps takes a number
    const mistyped = runBlock(ReplicateFluxAdvancedModelBlock, { credentials, prompt: 'x', steps: 'many' });
    // At run time they are refused as input errors, before any request.
    for (const run of [misspelt, mistyped]) {
      const first = await run.next();
      expect(first.value?.[0]).toBe('error');
    }
  });
});

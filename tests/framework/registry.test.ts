import { describe, expect, test } from '@jest/globals';
import { ALL_BLOCKS, createRegistry, registry, ReplicateFluxAdvancedModelBlock as flux } from '../../blocks/index.js';
import type { Block } from '../../index.js';
import { BlockRegistry } from '../../index.js';

/** A copy of the Flux block under another identity. */
const variant = (changes: Partial<Pick<Block, 'id' | 'name'>>): Block => ({ ...flux, ...changes }) as Block;
const OTHER_ID = '1d4e0a52-8c3b-4f1e-9a7d-2b6c5e8f0a13';

describe('register', () => {
  test('refuses ids that are not UUID v4', () => {
    const reg = new BlockRegistry();
    expect(() => reg.register(variant({ id: 'not-a-uuid', name: 'OtherBlock' }))).toThrow(
      'OtherBlock: id "not-a-uuid" is not a UUID v4',
    );
    // A version 1 UUID.
    expect(() => reg.register(variant({ id: '6fa459ea-ee8a-11e3-ac10-0800200c9a66', name: 'OtherBlock' }))).toThrow(
      'is not a UUID v4',
    );
    expect(reg.list()).toEqual([]);
  });

  test('refuses names that do not end in Block', () => {
    expect(() => new BlockRegistry().register(variant({ id: OTHER_ID, name: 'FluxRunner' }))).toThrow(
      'FluxRunner: name must end in "Block"',
    );
  });

  test('refuses a second block with the same id or name, naming both', () => {
    const reg = new BlockRegistry([flux]);
    expect(() => reg.register(variant({ name: 'CopyBlock' }))).toThrow(
      `Block CopyBlock (${flux.id}) clashes with registered block ReplicateFluxAdvancedModelBlock (${flux.id})`,
    );
    expect(() => reg.register(variant({ id: OTHER_ID }))).toThrow(
      `Block ReplicateFluxAdvancedModelBlock (${OTHER_ID}) clashes with registered block ReplicateFluxAdvancedModelBlock (${flux.id})`,
    );
    expect(reg.list()).toEqual([flux]);
  });
});

test('get finds a block by id or name; list keeps registration order', () => {
  const other = variant({ id: OTHER_ID, name: 'OtherBlock' });
  const reg = new BlockRegistry([flux, other]);
  expect(reg.get(flux.id)).toBe(flux);
  expect(reg.get('OtherBlock')).toBe(other);
  expect(reg.get('MissingBlock')).toBeUndefined();
  expect(reg.list().map((b) => b.name)).toEqual(['ReplicateFluxAdvancedModelBlock', 'OtherBlock']);
});

test('registries share nothing: the ready one holds every block and stays as shipped', () => {
  const mine = createRegistry();
  mine.register(variant({ id: OTHER_ID, name: 'OtherBlock' }));
  expect(mine.list()).toHaveLength(ALL_BLOCKS.length + 1);
  expect(ALL_BLOCKS.map((b) => b.name)).toEqual([
    'ReplicateFluxAdvancedModelBlock',
    'ReplicateFluxKontextBlock',
    'ReplicateFluxFillBlock',
    'ReplicateFlux2Block',
    'ReplicateFluxLoraBlock',
    'ReplicateModelBlock',
    'ReplicateModelSearchBlock',
    'ReplicateFluxTrainerBlock',
    'OpenAICompatibleFluxImageBlock',
    'SaveImageBlock',
  ]);
  expect(registry.list()).toEqual([...ALL_BLOCKS]);
  expect(createRegistry().list()).toEqual([...ALL_BLOCKS]);
});

test('manifest gives the AutoGPT block info of each block', () => {
  const [info] = createRegistry().manifest();
  expect(Object.keys(info!).sort()).toEqual([
    'categories',
    'contributors',
    'costs',
    'description',
    'id',
    'inputSchema',
    'name',
    'outputSchema',
    'staticOutput',
    'uiType',
    'unpricedCosts',
  ]);
  expect(info).toMatchObject({
    id: '90f8c45e-e983-4644-aa0b-b4ebe2f531bc',
    name: 'ReplicateFluxAdvancedModelBlock',
    description: flux.description,
    categories: [
      { category: 'AI', description: expect.stringMatching(/\S/) },
      { category: 'MULTIMEDIA', description: expect.stringMatching(/\S/) },
    ],
    staticOutput: false,
    uiType: 'Standard',
    contributors: [],
  });
  expect(info!.inputSchema).toMatchObject({
    type: 'object',
    properties: expect.objectContaining({ prompt: expect.any(Object) }),
  });
  expect(info!.outputSchema).toMatchObject({
    type: 'object',
    properties: expect.objectContaining({ result: expect.any(Object) }),
  });
});

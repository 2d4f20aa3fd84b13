import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { whyNot } from '../../hosts/studio/app/connections.js';
import { compatible, portType, toForm, unwrapNullable } from '../../hosts/studio/app/form-schema.js';
import { fromGraph, newNode, toGraph } from '../../hosts/studio/app/graph-file.js';
import { studioBlocks } from '../../hosts/studio/server/blocks.js';
import type { CredentialsChoice } from '../../hosts/studio/protocol.js';
import { ROOT } from '../helpers.js';

// The page's pure parts, on the real manifest: what the forms render and which links the canvas takes.
const blocks = studioBlocks(createRegistry());
const block = (name: string) => blocks.find((b) => b.name === name)!;
const KEY: CredentialsChoice = {
  provider: 'replicate',
  id: 'REPLICATE_API_TOKEN',
  type: 'api_key',
  title: 'Replicate API token from the environment',
};

describe('forms from the input schemas', () => {
  test('hints move into the uiSchema: advanced folded, placeholder, the credentials picker; nullable fields unwrapped', () => {
    const { schema, uiSchema } = toForm(block('ReplicateFluxAdvancedModelBlock').inputSchema);
    const properties = schema.properties as Record<string, Record<string, unknown>>;
    expect(properties.seed).toMatchObject({ type: 'integer', minimum: 0, maximum: 4294967295 });
    expect(properties.seed).not.toHaveProperty('anyOf');
    expect(properties.seed).not.toHaveProperty('default');
    expect(properties.steps).toMatchObject({ type: 'integer', minimum: 1, maximum: 50, default: 25 });
    for (const property of Object.values(properties))
      expect(Object.keys(property)).not.toEqual(expect.arrayContaining(['advanced']));
    expect(uiSchema.steps).toEqual({ 'ui:options': { advanced: true } });
    expect(uiSchema.prompt).toMatchObject({ 'ui:options': { advanced: false } });
    expect(uiSchema.credentials).toMatchObject({ 'ui:field': 'credentials' });
    expect(schema.title).toBeUndefined();
    expect(toForm(block('SaveImageBlock').inputSchema).uiSchema.image).toMatchObject({
      'ui:placeholder': 'https://replicate.delivery/...',
    });
  });

  test('secret fields are masked and free-form objects edited as JSON', () => {
    const { uiSchema } = toForm({
      type: 'object',
      properties: { key: { type: 'string', secret: true }, input: { type: 'object' } },
    });
    expect(uiSchema.key).toMatchObject({ 'ui:widget': 'password' });
    expect(uiSchema.input).toMatchObject({ 'ui:field': 'json' });
    expect(unwrapNullable({ anyOf: [{ type: 'string' }, { type: 'integer' }] })).toHaveProperty('anyOf');
  });

  test('handle types: integer feeds number, an item feeds a list, untyped feeds anything', () => {
    expect(portType({ anyOf: [{ type: 'integer' }, { type: 'null' }] })).toBe('integer');
    expect(portType({ type: 'array', items: { type: 'string' } })).toBe('array<string>');
    expect(portType({ title: 'Result' })).toBe('any');
    expect([
      compatible('integer', 'number'),
      compatible('string', 'array<string>'),
      compatible('any', 'string'),
    ]).toEqual([true, true, true]);
    expect([compatible('integer', 'string'), compatible('number', 'integer')]).toEqual([false, false]);
  });
});

describe('links the canvas refuses, with the reason', () => {
  const flux = newNode(block('ReplicateFluxAdvancedModelBlock'), 'n1', { x: 0, y: 0 }, [KEY]);
  const save = newNode(block('SaveImageBlock'), 'n2', { x: 400, y: 0 }, [KEY]);
  const kontext = newNode(block('ReplicateFluxKontextBlock'), 'n3', { x: 800, y: 0 }, [KEY]);
  const nodes = [flux, save, kontext];
  const link = (source: string, sourceHandle: string, target: string, targetHandle: string) => ({
    source,
    sourceHandle,
    target,
    targetHandle,
  });
  const edge = (source: string, sourceHandle: string, target: string, targetHandle: string) => ({
    id: `${source}-${target}`,
    ...link(source, sourceHandle, target, targetHandle),
  });

  test.each([
    ['an image URL into an image input', link('n1', 'result', 'n2', 'image'), undefined],
    ['an integer into a string', link('n1', 'seed', 'n2', 'image'), 'seed (integer) cannot feed image (string)'],
    [
      'from error',
      link('n1', 'error', 'n2', 'image'),
      'links from error are not supported; a failing node stops its downstream',
    ],
    ['into credentials', link('n1', 'result', 'n3', 'credentials'), 'credentials are picked in the form, not linked'],
    ['into itself', link('n3', 'seed', 'n3', 'seed'), 'a node cannot feed itself'],
  ])('%s', (_, connection, reason) => {
    expect(whyNot(connection, nodes, [])).toBe(reason);
  });

  test('a second link into one input, and a cycle', () => {
    expect(whyNot(link('n3', 'result', 'n2', 'image'), nodes, [edge('n1', 'result', 'n2', 'image')])).toBe(
      'n2.image is already linked',
    );
    expect(whyNot(link('n3', 'seed', 'n1', 'seed'), nodes, [edge('n1', 'result', 'n3', 'input_image')])).toBe(
      'that link would make a cycle',
    );
  });
});

describe('graph files', () => {
  test("an example opens laid out left to right, with unknown keys replaced by the server's, and exports in the same shape", async () => {
    const example = JSON.parse(await readFile(join(ROOT, 'examples', 'generate-edit-save.json'), 'utf8')) as {
      nodes: Array<{ id: string; input_default: object }>;
    };
    const { nodes, edges } = fromGraph(example, blocks, [KEY]);
    expect(nodes.map((n) => [n.id, n.position.x])).toEqual([
      ['generate', 0],
      ['edit', 380],
      ['save', 760],
    ]);
    expect(nodes[0]!.data.values.credentials).toEqual(KEY);
    expect(nodes[0]!.data.values.prompt).toBe('A lighthouse on a sea cliff at dawn');
    const exported = toGraph(nodes, edges);
    expect(exported.links).toEqual((example as unknown as { links: unknown }).links);
    expect(exported.nodes.map((n) => [n.id, n.block_id])).toEqual(
      example.nodes.map((n) => [n.id, (n as unknown as { block_id: string }).block_id]),
    );
    expect(exported.nodes[0]!.metadata?.position).toEqual({ x: 0, y: 0 });
    expect(() => fromGraph({ nodes: [{ id: 'x', block_id: 'NoSuchBlock' }] }, blocks, [KEY])).toThrow(
      'Node x: no block NoSuchBlock',
    );
    const bare = fromGraph(
      { nodes: [{ id: 'g', block_id: 'ReplicateFluxAdvancedModelBlock', input_default: { prompt: 'x', seed: null } }] },
      blocks,
      [KEY],
    );
    expect(bare.nodes[0]!.data.values).toMatchObject({ credentials: KEY, prompt: 'x', steps: 25 });
    expect(bare.nodes[0]!.data.values).not.toHaveProperty('seed');
  });
});

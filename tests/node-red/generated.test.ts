import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, test } from '@jest/globals';
import { z } from 'zod';
import { createRegistry } from '../../blocks/index.js';
import { nodeRedArtifacts, nodeType } from '../../tools/scripts/node-red.js';
import { ROOT } from '../helpers.js';

// The Node-RED nodes are generated from the blocks' schemas: a block changed without
// `npm run schemas` (or `npm run node-red`) leaves them stale, and this fails.
const expected = nodeRedArtifacts(createRegistry());

test.each([...expected.keys()])('%s is up to date (npm run node-red)', async (path) => {
  const onDisk = await readFile(join(ROOT, path), 'utf8').catch(() => 'missing: run npm run node-red');
  expect(onDisk).toBe(expected.get(path));
});

test('node types are kebab-case names under flux-', () => {
  expect(nodeType('ReplicateFluxAdvancedModelBlock')).toBe('flux-replicate-flux-advanced-model');
  expect(nodeType('OpenAICompatibleFluxImageBlock')).toBe('flux-openai-compatible-flux-image');
  expect(nodeType('SaveImageBlock')).toBe('flux-save-image');
});

test('a block whose field would overwrite a Node-RED node property is refused, naming it', () => {
  const registry = createRegistry();
  const block = registry.get('SaveImageBlock')!;
  const clash = { ...block, inputSchema: z.object({ wires: z.string() }) };
  const fake = { list: () => [clash] } as unknown as typeof registry;
  expect(() => nodeRedArtifacts(fake)).toThrow(/input field "wires" is a Node-RED node property/);
});

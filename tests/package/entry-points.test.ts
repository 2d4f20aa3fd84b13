import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@jest/globals';
import { ROOT } from '../helpers.js';

const { name } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string };

/** Runs an ES module in a fresh node inside the package, so imports by package name go through its `exports` map. */
function importAs(code: string): unknown {
  return JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' }),
  );
}

test('the root entry holds what hosts need, and nothing for block authors', () => {
  const names = importAs(
    `const m = await import('${name}'); console.log(JSON.stringify(Object.keys(m).sort()))`,
  ) as string[];
  expect(names).toEqual(
    expect.arrayContaining([
      'createRegistry',
      'runBlock',
      'runGraph',
      'GraphError',
      'createReplicateClient',
      'ERROR_KINDS',
      'BlockError',
      'ReplicateFluxAdvancedModelBlock',
    ]),
  );
  expect(names).not.toEqual(expect.arrayContaining(['defineBlock']));
  expect(names.length).toBeLessThanOrEqual(25);
});

test("the sdk entry holds what block authors need and none of the client's internals", () => {
  const names = importAs(
    `const m = await import('${name}/sdk'); console.log(JSON.stringify(Object.keys(m)))`,
  ) as string[];
  expect(names.sort()).toEqual([
    'BLOCK_CATEGORIES',
    'BlockError',
    'EXAMPLE_CREDENTIALS',
    'EXAMPLE_IMAGE',
    'IMAGE_OUTPUTS',
    'credentialsField',
    'defineBlock',
    'field',
    'imageUrl',
    'promptField',
    'runModel',
    'seedField',
  ]);
});

test('schemas and example graphs import as JSON through the exports map', () => {
  const code = `
    const { default: manifest } = await import('${name}/schemas/blocks.json', { with: { type: 'json' } });
    const { default: graph } = await import('${name}/examples/generate-edit-save.json', { with: { type: 'json' } });
    console.log(JSON.stringify([manifest.length, graph.nodes.length]));`;
  expect(importAs(code)).toEqual([10, 3]);
});

test('internal modules are not importable by package name', () => {
  expect(() => importAs(`await import('${name}/dist/shared/replicate/client.js'); console.log('[]')`)).toThrow(
    /ERR_PACKAGE_PATH_NOT_EXPORTED/,
  );
});

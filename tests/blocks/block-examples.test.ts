import { describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { EXAMPLE_BASE_URL } from '../../shared/framework/block.js';
import { collect, contextFor, useEmulator } from '../helpers.js';

// Every registered block's declared examples, run against the emulator: registering a block tests it.
const local = useEmulator();

const cases = createRegistry()
  .list()
  .flatMap((block) => block.examples.map((example) => [block.name, example.title, block, example] as const));

describe.each(cases)('%s: %s', (_, __, block, example) => {
  test('yields the declared outputs', async () => {
    // Examples name the emulator on a fixed port as an OpenAI-compatible provider: this test's own takes its place.
    const input: unknown = JSON.parse(JSON.stringify(example.input).replaceAll(EXAMPLE_BASE_URL, local.emulator.url));
    const outputs = await collect(block, input, contextFor(local.emulator));
    expect(outputs.map(([name]) => name)).toEqual(example.outputs.map(([name]) => name));
    example.outputs.forEach(([, expected], i) => {
      const actual = outputs[i]![1];
      if (expected instanceof RegExp)
        expect(typeof actual === 'string' ? actual : JSON.stringify(actual)).toMatch(expected);
      else expect(actual).toEqual(expected);
    });
  });
});

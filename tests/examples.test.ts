import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRegistry } from '../blocks/index.js';
import { startEmulator, type Emulator } from '../emulator/index.js';
import { collect, contextFor, FAST } from './helpers.js';

// Every registered block's declared examples, run against the emulator: registering a block tests it.
let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator(FAST);
});
afterAll(() => emulator.close());

const cases = createRegistry().list().flatMap((block) => block.examples.map((example) => [block.name, example.title, block, example] as const));

describe.each(cases)('%s: %s', (_, __, block, example) => {
  test('yields the declared outputs', async () => {
    const outputs = await collect(block, example.input, contextFor(emulator));
    expect(outputs.map(([name]) => name)).toEqual(example.outputs.map(([name]) => name));
    example.outputs.forEach(([, expected], i) => {
      const actual = outputs[i]![1];
      if (expected instanceof RegExp) expect(actual).toMatch(expected);
      else expect(actual).toEqual(expected);
    });
  });
});

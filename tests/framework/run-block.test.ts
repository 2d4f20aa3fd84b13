import { expect, test } from '@jest/globals';
import { z } from 'zod';
import { runBlock, type BlockContext } from '../../index.js';
import { defineBlock } from '../../sdk.js';
import { BlockError } from '../../index.js';
import { collect, TOKEN } from '../helpers.js';

/** A minimal block whose run is given by the test. */
function testBlock(run: (input: { n: number }, context: BlockContext) => AsyncGenerator<readonly ['result', string] | readonly ['error', string]>) {
  return defineBlock({
    id: '5b1f8f8e-3c2a-4d7b-9e1f-0a2b3c4d5e6f',
    name: 'TestBlock',
    description: 'A block for framework tests.',
    categories: ['AI'],
    inputSchema: z.object({ n: z.number().int().max(3) }).strict(),
    outputSchema: z.object({ result: z.string().url(), error: z.string() }),
    documentation: { whatItDoes: '', howItWorks: '', useCases: [], tips: [] },
    examples: [],
    run,
  });
}
const context = { credentials: { apiKey: TOKEN } };

test('invalid input never reaches run', async () => {
  let ran = false;
  const block = testBlock(async function* () {
    ran = true;
    yield ['result', 'https://a.test/x.png'];
  });
  expect(await collect(block, { n: 9, m: 1 }, context)).toEqual([['error', 'Invalid input: n: must be <= 3; input: has unknown field(s) m']]);
  expect(ran).toBe(false);
});

test('a yielded value that breaks the output schema becomes the one error', async () => {
  const block = testBlock(async function* () {
    yield ['result', 'https://a.test/1.png'];
    yield ['result', 'not a url'];
    yield ['result', 'https://a.test/3.png'];
  });
  expect(await collect(block, { n: 1 }, context)).toEqual([
    ['result', 'https://a.test/1.png'],
    ['error', 'Internal error: TestBlock yielded an invalid "result" output (result: Invalid url). Report it with the message.'],
  ]);
});

test('an output name outside the schema becomes an error', async () => {
  const block = testBlock(async function* () {
    yield ['picture' as 'result', 'https://a.test/1.png'];
  });
  expect(await collect(block, { n: 1 }, context)).toEqual([['error', 'Internal error: TestBlock yielded an invalid "picture" output (not in the output schema). Report it with the message.']]);
});

test('thrown errors become one error output, with the token masked; nothing follows an error', async () => {
  // These test blocks fail before their first yield, on purpose.
  // eslint-disable-next-line require-yield
  const failing = testBlock(async function* () {
    throw new BlockError('unauthorized', `bad key ${TOKEN}`);
  });
  expect(await collect(failing, { n: 1 }, context)).toEqual([['error', 'bad key [REDACTED]. Check the Replicate API token: that it is current and may run this model.']]);
  // eslint-disable-next-line require-yield
  const buggy = testBlock(async function* () {
    throw new RangeError('oops');
  });
  expect(await collect(buggy, { n: 1 }, context)).toEqual([['error', 'Internal error: oops. Report it with the message.']]);
  const stops = testBlock(async function* () {
    yield ['error', 'first'];
    yield ['result', 'https://a.test/never.png'];
  });
  expect(await collect(stops, { n: 1 }, context)).toEqual([['error', 'first']]);
});

test('runBlock never throws, even for a run that is not a generator', async () => {
  const broken = testBlock((() => { throw new Error('no generator'); }) as never);
  const outputs: unknown[] = [];
  for await (const output of runBlock(broken, { n: 1 }, context)) outputs.push(output);
  expect(outputs).toEqual([['error', 'Internal error: no generator. Report it with the message.']]);
});

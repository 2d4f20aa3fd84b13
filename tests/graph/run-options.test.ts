import { beforeAll, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { createRegistry } from '../../blocks/index.js';
import { runGraph, type GraphOutput } from '../../graph/run-graph.js';

// runGraph's options with Save Image nodes on data: URIs: no network, nothing billed.
const registry = createRegistry();
let image = '';
beforeAll(async () => {
  image = `data:image/png;base64,${(await sharp({ create: { width: 2, height: 2, channels: 3, background: '#0f0' } }).png().toBuffer()).toString('base64')}`;
});

/** n0 saves the image as a data: URI, n1 saves what n0 gave. */
const pair = () => ({
  nodes: [
    { id: 'n0', block_id: 'SaveImageBlock', input_default: { image, store_as: 'data_uri' } },
    { id: 'n1', block_id: 'SaveImageBlock', input_default: { store_as: 'data_uri' } },
  ],
  links: [{ source_id: 'n0', source_name: 'data_uri', sink_id: 'n1', sink_name: 'image' }],
});

describe('onOutput', () => {
  test('sees every output in order; one that throws is a failure of its node, and the run still ends', async () => {
    const seen: GraphOutput[] = [];
    const result = await runGraph(pair(), {
      registry,
      onOutput: (output) => {
        seen.push(output);
        if (output.node === 'n1') throw new Error('boom');
      },
    });
    // n1's first output throws: nothing of n1 follows it.
    expect(seen.map((o) => `${o.node}.${o.output}`)).toEqual(['n0.data_uri', 'n0.content_type', 'n0.width', 'n0.height', 'n1.data_uri']);
    expect(result.outputs).toEqual(seen);
    expect(result.failures).toEqual([{ node: 'n1', block: 'SaveImageBlock', error: 'Internal error: boom' }]);
    expect(result.stopped).toEqual([]);
  });

  test('a thrown value that is not an Error is named by its text', async () => {
    const result = await runGraph(pair(), {
      registry,
      onOutput: () => {
        throw 'plain';
      },
    });
    expect(result.failures).toEqual([{ node: 'n0', block: 'SaveImageBlock', error: 'Internal error: plain' }]);
  });
});

describe('runNode', () => {
  test('replaces runBlock: it gets each node\'s block, fixed and linked inputs, and a context with the node\'s signal', async () => {
    const calls: Array<{ block: string; input: Record<string, unknown>; signal: boolean }> = [];
    const result = await runGraph(pair(), {
      registry,
      context: { save: { dir: 'unused' } },
      async *runNode(block, input, context) {
        calls.push({ block: block.name, input, signal: context.signal instanceof AbortSignal });
        expect(context.save).toEqual({ dir: 'unused' });
        yield ['data_uri', `from ${String(input.store_as)}`];
      },
    });
    expect(calls).toEqual([
      { block: 'SaveImageBlock', input: { image, store_as: 'data_uri' }, signal: true },
      { block: 'SaveImageBlock', input: { store_as: 'data_uri', image: 'from data_uri' }, signal: true },
    ]);
    expect(result.outputs.map((o) => o.value)).toEqual(['from data_uri', 'from data_uri']);
  });

  test('an error output stops the downstream node, which is reported stopped and never run', async () => {
    const ran: string[] = [];
    const result = await runGraph(pair(), {
      registry,
      async *runNode(_, input) {
        ran.push(String(input.image).slice(0, 5));
        yield ['error', 'no luck'];
      },
    });
    expect(ran).toEqual(['data:']);
    expect(result.failures).toEqual([{ node: 'n0', block: 'SaveImageBlock', error: 'no luck' }]);
    expect(result.stopped).toEqual(['n1']);
  });

  test('outputs other than the linked one do not feed the link', async () => {
    const result = await runGraph(pair(), {
      registry,
      async *runNode(_, input) {
        if (input.image === image) yield ['path', 'out/x.png'];
      },
    });
    expect(result.outputs.map((o) => `${o.node}.${o.output}`)).toEqual(['n0.path']);
  });
});

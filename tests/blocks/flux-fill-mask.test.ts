import { describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { ReplicateFluxFillBlock as block } from '../../blocks/index.js';
import { createRegistry } from '../../blocks/index.js';
import { EXAMPLE_IMAGE } from '../../shared/framework/block.js';
import { checkGraph } from '../../shared/graph/check-graph.js';
import { dataUriPixelSize } from '../../shared/image/image-size.js';
import { collect, contextFor, CREDENTIALS, creates, errorOf, names, useEmulator } from '../helpers.js';

const local = useEmulator();
const png = async (width: number, height: number) =>
  `data:image/png;base64,${(
    await sharp({ create: { width, height, channels: 3, background: '#fff' } })
      .png()
      .toBuffer()
  ).toString('base64')}`;
const fill = (input: Record<string, unknown>) =>
  collect(
    block,
    { credentials: CREDENTIALS, prompt: 'a boat', model: 'Flux Fill Dev', ...input },
    contextFor(local.emulator),
  );

describe('Flux Fill: a data: URI mask of another size than the data: URI image', () => {
  test('dataUriPixelSize reads the size from the bytes, synchronously', async () => {
    expect(dataUriPixelSize(EXAMPLE_IMAGE)).toEqual({ width: 3, height: 2 });
    expect(dataUriPixelSize(await png(40, 30))).toEqual({ width: 40, height: 30 });
    expect(dataUriPixelSize('https://example.com/a.png')).toBeUndefined();
    expect(dataUriPixelSize('data:image/png;base64,AAAA')).toBeUndefined();
  });

  test('is an input error naming mask, before any request', async () => {
    const error = errorOf(await fill({ image: EXAMPLE_IMAGE, mask: await png(40, 30) }));
    expect(error).toBe('Invalid input: mask: is 40x30 px but image is 3x2 px; it must have the same size');
    expect(local.emulator.requests).toEqual([]);
  });

  test('a graph holding such a node is refused by checkGraph', async () => {
    const graph = {
      nodes: [
        {
          id: 'fill',
          block_id: block.id,
          input_default: { credentials: CREDENTIALS, prompt: 'x', image: EXAMPLE_IMAGE, mask: await png(4, 4) },
        },
      ],
      links: [],
    };
    expect(() => checkGraph(graph, createRegistry())).toThrow(/mask: is 4x4 px but image is 3x2 px/);
  });

  test('a mask of the same size runs', async () => {
    expect(names(await fill({ image: await png(40, 30), mask: await png(40, 30) }))).toEqual(['result', 'seed']);
    expect(creates(local.emulator).created).toBe(1);
  });
});

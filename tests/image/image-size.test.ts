import { expect, test } from '@jest/globals';
import { dataUriPixelSize } from '../../shared/image/image-size.js';

test('a truncated image in a data: URI has no size, whatever lies after its bytes in memory', () => {
  // A PNG cut off before IHDR's width and height. Small Buffers share Node's 8 KB pool: fill the
  // pool after this one with bytes that would read as a width and height if read past the end.
  const truncated = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64');
  const neighbour = Buffer.from(truncated, 'base64');
  new Uint8Array(neighbour.buffer).fill(0x41, neighbour.byteOffset + neighbour.length);
  expect(dataUriPixelSize(`data:image/png;base64,${truncated}`)).toBeUndefined();
});

import { describe, expect, test } from '@jest/globals';
import {
  ReplicateFlux2Block,
  ReplicateFluxFillBlock,
  ReplicateFluxKontextBlock,
  ReplicateModelBlock,
} from '../../blocks/index.js';
import { collect, contextFor, CREDENTIALS, errorOf, useEmulator } from '../helpers.js';

const local = useEmulator();

// Payloads that decode to nothing, or not at all: before, some gave `Internal error`, others a 422 from the model.
const BAD = [
  ['base64 with foreign characters', 'data:image/png;base64,!!!!', "the data: URI's payload is not valid base64"],
  ['broken percent-encoding', 'data:image/png,%E0%A4%A', "the data: URI's payload is not valid percent-encoding"],
  ['base64 of nothing', 'data:image/png;base64,==', 'the data: URI holds no data'],
] as const;

describe('an undecodable data: URI is an input error naming the field, before any request', () => {
  test.each(BAD)('Kontext, Fill and Flux 2: %s', async (_, uri, why) => {
    const context = contextFor(local.emulator);
    const base = { credentials: CREDENTIALS, prompt: 'x' };
    expect(errorOf(await collect(ReplicateFluxKontextBlock, { ...base, input_image: uri }, context))).toBe(
      `Invalid input: input_image: ${why}`,
    );
    expect(
      errorOf(await collect(ReplicateFluxFillBlock, { ...base, image: uri, outpaint: 'Make square' }, context)),
    ).toBe(`Invalid input: image: ${why}`);
    expect(
      errorOf(
        await collect(ReplicateFluxFillBlock, { ...base, image: 'https://example.com/a.png', mask: uri }, context),
      ),
    ).toBe(`Invalid input: mask: ${why}`);
    expect(
      errorOf(
        await collect(ReplicateFlux2Block, { ...base, input_images: ['https://example.com/a.png', uri] }, context),
      ),
    ).toBe(`Invalid input: input_images.1: ${why}`);
    expect(local.emulator.requests).toEqual([]);
  });

  test('a large one the client would upload (Replicate Model, any input)', async () => {
    const uri = `data:image/png;base64,${'!'.repeat(400_000)}`;
    const why = "the data: URI's payload is not valid base64";
    const input = {
      credentials: CREDENTIALS,
      model: 'black-forest-labs/flux-kontext-pro',
      input: { prompt: 'x', input_image: uri },
    };
    const error = errorOf(await collect(ReplicateModelBlock, input, contextFor(local.emulator)));
    expect(error).toBe(`input_image: ${why}`);
    expect(local.emulator.requests.filter((r) => r.method === 'POST')).toEqual([]);
  });
});

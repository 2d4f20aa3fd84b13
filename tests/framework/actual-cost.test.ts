import { describe, expect, test } from '@jest/globals';
import { actualCost, describeActualCost, totalCost } from '../../shared/framework/actual-cost.js';
import type { BlockPricing, RunPrice } from '../../shared/framework/pricing.js';
import type { Prediction } from '../../shared/replicate/types.js';

// A 3x2 px png: 6 pixels, 0.000006 megapixels.
const PNG_3X2 =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEElEQVR4nGPQiFoAQQxwFgBBPAbNViXtjwAAAABJRU5ErkJggg==';

const pricing = (...prices: RunPrice[]): BlockPricing => ({
  modelField: 'model',
  prices: new Map(prices.map((price, i) => [`choice ${i}`, price])),
});

const prediction = (fields: Partial<Prediction>): Prediction => ({
  id: 'p1',
  status: 'succeeded',
  model: 'owner/model',
  output: null,
  ...fields,
});

describe('actualCost', () => {
  test('per image: the outputs x the price per image', () => {
    const cost = actualCost(
      prediction({ output: ['https://a/1.png', 'https://a/2.png', 'https://a/3.png'] }),
      pricing({ model: 'owner/other', usd: 1, unit: 'image' }, { model: 'owner/model', usd: 0.003, unit: 'image' }),
    );
    expect(cost).toEqual({
      prediction: 'p1',
      model: 'owner/model',
      unit: 'image',
      quantity: 3,
      usdPerUnit: 0.003,
      usd: 0.009,
    });
    expect(describeActualCost(cost)).toBe('owner/model: 3 images x $0.003 = $0.009');
  });

  test('per image: one output as a string is one image; a failed prediction without output is $0', () => {
    const price = pricing({ model: 'owner/model', usd: 0.04, unit: 'image' });
    expect(actualCost(prediction({ output: 'https://a/1.png' }), price).usd).toBe(0.04);
    expect(actualCost(prediction({ status: 'failed', output: null }), price).usd).toBe(0);
  });

  test('per megapixel: the megapixels of the outputs, when their sizes are known', () => {
    const price = pricing({ model: 'owner/model', usd: 0.05, unit: 'megapixel' });
    const sized = actualCost(prediction({ output: ['https://a/1.png', 'https://a/2.png'] }), price, {
      outputSizes: [
        { width: 1000, height: 1000 },
        { width: 2000, height: 1000 },
      ],
    });
    expect(sized).toMatchObject({ unit: 'megapixel', quantity: 3, usdPerUnit: 0.05, usd: 0.15 });
    expect(describeActualCost(sized)).toBe('owner/model: 3 megapixels x $0.05 = $0.15');
    // A data: URI output is read for its size.
    expect(actualCost(prediction({ output: [PNG_3X2] }), price)).toMatchObject({ quantity: 0.000006, usd: 0 });
    expect(
      actualCost(prediction({ output: [PNG_3X2] }), pricing({ ...price.prices.get('choice 0')!, usd: 1e6 })),
    ).toMatchObject({ usd: 6 });
  });

  test('per megapixel: unknown when an output size is not known (a URL nobody read)', () => {
    const cost = actualCost(
      prediction({ output: ['https://a/1.png', PNG_3X2] }),
      pricing({ model: 'owner/model', usd: 0.05, unit: 'megapixel' }),
    );
    expect(cost).toMatchObject({ usd: null, unit: 'megapixel' });
    expect(cost.unknown).toMatch(/size of its output images is unknown/);
  });

  test('per second: metrics.predict_time x the hardware price per second', () => {
    const price = pricing({ model: 'lucataco/flux-schnell-lora:abc', usd: 0.001525, unit: 'second' });
    const cost = actualCost(
      prediction({
        model: 'lucataco/flux-schnell-lora',
        version: 'abc',
        metrics: { predict_time: 2 },
      } as Partial<Prediction>),
      price,
    );
    expect(cost).toMatchObject({ model: 'lucataco/flux-schnell-lora', unit: 'second', quantity: 2, usd: 0.00305 });
    expect(describeActualCost(cost)).toBe('lucataco/flux-schnell-lora: 2 s x $0.001525/s = $0.00305');
  });

  test('per second: unknown without metrics.predict_time', () => {
    const price = pricing({ model: 'owner/model', usd: 0.001, unit: 'second' });
    for (const metrics of [undefined, {}, { predict_time: 'soon' }, { predict_time: -1 }]) {
      const cost = actualCost(prediction({ metrics } as Partial<Prediction>), price);
      expect(cost).toMatchObject({
        usd: null,
        unknown: 'priced per second, and the prediction gave no metrics.predict_time',
      });
    }
  });

  test('an unknown price stays unknown, whatever the prediction shows', () => {
    const cost = actualCost(
      prediction({ output: ['https://a/1.png'], metrics: { predict_time: 3 } } as Partial<Prediction>),
      pricing({ model: 'owner/model', usd: null, unit: 'image' }),
    );
    expect(cost).toEqual({
      prediction: 'p1',
      model: 'owner/model',
      unit: 'image',
      usd: null,
      unknown: 'no known price for owner/model',
    });
    expect(describeActualCost(cost)).toBe('owner/model: unknown (no known price for owner/model)');
  });

  test('a model missing from a table of several prices, or a block without pricing, is unknown', () => {
    const two = pricing({ model: 'a/b', usd: 1, unit: 'image' }, { model: 'c/d', usd: 2, unit: 'image' });
    expect(actualCost(prediction({ output: ['x'] }), two).unknown).toBe('no price for owner/model in the price table');
    expect(actualCost(prediction({ output: ['x'] }), undefined).usd).toBeNull();
  });

  test('a block with one price (any model) applies it to whatever model ran', () => {
    const any = pricing({ model: 'any Replicate model', usd: null, unit: 'second' });
    expect(actualCost(prediction({}), any).unknown).toBe('no known price for any Replicate model');
  });

  test('a block that runs any model prices a known model by the model that ran', () => {
    const any: BlockPricing = {
      prices: new Map([['', { model: 'any Replicate model', usd: null, unit: 'second' }]]),
      byModel: new Map([['owner/model', { model: 'owner/model', usd: 0.025, unit: 'image' }]]),
    };
    expect(actualCost(prediction({ output: ['https://a/1.png', 'https://a/2.png'] }), any)).toMatchObject({
      model: 'owner/model',
      quantity: 2,
      usd: 0.05,
    });
    expect(actualCost(prediction({ model: 'other/model' }), any).unknown).toBe(
      'no known price for any Replicate model',
    );
  });
});

test('totalCost adds the known costs and counts the unknown', () => {
  expect(totalCost([{ usd: 0.1 }, { usd: 0.2 }, { usd: null }])).toEqual({ knownUsd: 0.3, unknown: 1 });
  expect(totalCost([])).toEqual({ knownUsd: 0, unknown: 0 });
});

import { expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { MODELS } from '../../shared/flux/catalog.js';
import { PRICES } from '../../shared/flux/prices.js';
import { fixture } from '../helpers.js';

test('every catalog model has a price entry: a known price names its source and date, an unknown one says why', () => {
  expect(Object.keys(PRICES).sort()).toEqual(Object.keys(MODELS).sort());
  for (const [model, price] of Object.entries(PRICES)) {
    if (price.usd === null) {
      expect({ model, source: price.source, note: typeof price.note }).toEqual({
        model,
        source: undefined,
        note: 'string',
      });
    } else {
      expect({ model, by: price.source?.by, checked: price.source?.checked, url: price.source?.url }).toEqual({
        model,
        by: price.source?.url.startsWith('https://replicate.com/') ? 'replicate' : 'third party',
        checked: '2026-12-03',
        url: expect.stringMatching(/^https:\/\//),
      });
    }
  }
  // Replicate's own page gives Flux Pro's price; no page gave the LoRA or Flux 2 models'.
  expect(PRICES['black-forest-labs/flux-pro']).toMatchObject({
    usd: 0.055,
    unit: 'image',
    source: { by: 'replicate' },
  });
  for (const model of ['flux-dev-lora', 'flux-schnell-lora', 'flux-2-pro', 'flux-2-max', 'flux-2-flex'] as const)
    expect(PRICES[`black-forest-labs/${model}`].usd).toBeNull();
});

test("the manifest gives each Replicate block's cost in AutoGPT's BlockCost shape, per model choice and image count", () => {
  const manifest = new Map(
    createRegistry()
      .manifest()
      .map((info) => [info.name, info]),
  );
  const advanced = manifest.get('ReplicateFluxAdvancedModelBlock')!;
  // $0.012 is 1.2 cents: 2 credits, rounded up so a cost is never shown lower than it is.
  expect(advanced.costs).toContainEqual({
    cost_amount: 2,
    cost_type: 'run',
    cost_filter: { replicate_model_name: 'Flux Schnell', num_outputs: 4 },
    cost_usd: 0.012,
    model: 'black-forest-labs/flux-schnell',
  });
  // Flux Pro takes no num_outputs: one cost, $0.055 rounded up to 6 credits (cents).
  expect(advanced.costs.filter((c) => c.cost_filter.replicate_model_name === 'Flux Pro')).toEqual([
    {
      cost_amount: 6,
      cost_type: 'run',
      cost_filter: { replicate_model_name: 'Flux Pro' },
      cost_usd: 0.055,
      model: 'black-forest-labs/flux-pro',
    },
  ]);
  expect(manifest.get('ReplicateFluxKontextBlock')!.unpricedCosts).toEqual([
    { cost_filter: { model: 'Flux Kontext Dev' }, model: 'black-forest-labs/flux-kontext-dev' },
  ]);
  expect(manifest.get('ReplicateFluxLoraBlock')!).toMatchObject({ costs: [], unpricedCosts: [{}, {}] });
  expect(manifest.get('ReplicateModelBlock')!).toMatchObject({ costs: [], unpricedCosts: [{ cost_filter: {} }] });
  expect(manifest.get('SaveImageBlock')!).toMatchObject({ costs: [], unpricedCosts: [] });
  // Every block that calls Replicate (has credentials) says what a run costs, or that it is unknown.
  for (const info of manifest.values()) {
    // Every block with credentials bills a prediction, except search: Replicate's search is not billed.
    const paid = 'credentials' in (info.inputSchema.properties as object) && info.name !== 'ReplicateModelSearchBlock';
    expect({ name: info.name, priced: info.costs.length + info.unpricedCosts.length > 0 }).toEqual({
      name: info.name,
      priced: paid,
    });
  }
});

test('the known prices are those of tests/fixtures/flux-prices.json, with its sources; every other model is unknown', () => {
  const { prices } = fixture<{ prices: Record<string, { usd: number; by: string; url: string }> }>('flux-prices.json');
  const known = Object.fromEntries(
    Object.entries(PRICES)
      .filter(([, price]) => price.usd !== null)
      .map(([model, price]) => [model, { usd: price.usd, by: price.source!.by, url: price.source!.url }]),
  );
  expect(known).toEqual(prices);
});

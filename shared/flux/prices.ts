import type { BlockPricing, PriceUnit, RunPrice } from '../framework/pricing.js';
import { MODELS, type ModelRef, type ModelSpec } from './catalog.js';
import type { ModelChoices } from './choices.js';

/**
 * Where a price was read: Replicate's own page, or a third party's page quoting Replicate's
 * price (named as such: it may lag Replicate's).
 */
export interface PriceSource {
  readonly url: string;
  readonly by: 'replicate' | 'third party';
  /** The day the page was read, YYYY-MM-DD. */
  readonly checked: string;
}

/** One Flux model's price on Replicate: USD per unit, or null when unknown (never guessed). */
export interface ModelPrice {
  readonly usd: number | null;
  readonly unit: PriceUnit;
  /** Absent when the price is unknown. */
  readonly source?: PriceSource;
  /** Why a price is unknown, or what else a reader should know. */
  readonly note?: string;
}

const CHECKED = '2026-12-03';
const replicatePage = (url: string): PriceSource => ({ url, by: 'replicate', checked: CHECKED });
const thirdParty = (url: string): PriceSource => ({ url, by: 'third party', checked: CHECKED });
/** Official models are billed by output; a price no page gave stays unknown. */
const unknown = (note: string): ModelPrice => ({ usd: null, unit: 'image', note });

/**
 * The Flux models on Replicate with their price per output image. Official models (the
 * `black-forest-labs/` ones) are billed per output, not per second; community models (like
 * `lucataco/flux-schnell-lora`) by hardware time, which is known only after a run. Third-party
 * pages are Lumenfall's model pages, which list Replicate's price per image beside other
 * providers'. Replicate's own pricing page (https://replicate.com/pricing) gave no per-model
 * figure in our copy. See docs/costs.md.
 */
export const PRICES: Readonly<Record<ModelRef, ModelPrice>> = {
  'black-forest-labs/flux-schnell': {
    usd: 0.003,
    unit: 'image',
    source: thirdParty('https://lumenfall.ai/models/black-forest-labs/flux.1-schnell'),
  },
  'black-forest-labs/flux-dev': {
    usd: 0.025,
    unit: 'image',
    source: thirdParty('https://lumenfall.ai/models/black-forest-labs/flux.1-dev'),
  },
  'black-forest-labs/flux-pro': {
    usd: 0.055,
    unit: 'image',
    source: replicatePage('https://replicate.com/black-forest-labs/flux-pro'),
  },
  'black-forest-labs/flux-1.1-pro': {
    usd: 0.04,
    unit: 'image',
    source: thirdParty('https://lumenfall.ai/models/black-forest-labs/flux1.1-pro'),
  },
  'black-forest-labs/flux-1.1-pro-ultra': {
    usd: 0.06,
    unit: 'image',
    source: thirdParty('https://lumenfall.ai/models/black-forest-labs/flux1.1-pro-ultra'),
  },
  'black-forest-labs/flux-kontext-pro': {
    usd: 0.04,
    unit: 'image',
    source: thirdParty('https://lumenfall.ai/models/black-forest-labs/flux.1-kontext-pro'),
  },
  'black-forest-labs/flux-kontext-max': {
    usd: 0.08,
    unit: 'image',
    source: thirdParty('https://lumenfall.ai/models/black-forest-labs/flux.1-kontext-max'),
  },
  'black-forest-labs/flux-kontext-dev': unknown(
    "No page gave Replicate's price; RunPod's $0.025 per image is RunPod's own endpoint, not Replicate's.",
  ),
  'black-forest-labs/flux-fill-dev': unknown("No page gave Replicate's price."),
  'black-forest-labs/flux-fill-pro': unknown(
    "No page gave Replicate's price; BFL's own API charges $0.05 per image (docs.bfl.ml), not Replicate's price.",
  ),
  'black-forest-labs/flux-2-pro': unknown("No page gave Replicate's price."),
  'black-forest-labs/flux-2-max': unknown("No page gave Replicate's price."),
  'black-forest-labs/flux-2-flex': unknown("No page gave Replicate's price."),
  'black-forest-labs/flux-dev-lora': unknown("No page gave Replicate's price."),
  'black-forest-labs/flux-schnell-lora': unknown("No page gave Replicate's price."),
  'lucataco/flux-schnell-lora:2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574': {
    usd: null,
    unit: 'second',
    note: 'A community model: billed by hardware time (predict_time × the hardware price), known after the run.',
  },
};

/** The price of one model as a block carries it. */
export function runPrice(model: ModelRef): RunPrice {
  const { usd, unit } = PRICES[model];
  return { model, usd, unit };
}

/** Every model of {@link PRICES} by `owner/name`, for a block that may run any of them (`BlockPricing.byModel`). */
export const PRICES_BY_MODEL: ReadonlyMap<string, RunPrice> = new Map(
  (Object.keys(PRICES) as ModelRef[]).map((model) => [model, runPrice(model)]),
);

/**
 * A block's pricing from its model choices: each choice's model and price, and, when the
 * block has a count field (`num_outputs`), which choices take it (those mapping the field) and
 * its most (the catalog's maximum for it, 1 when the catalog gives none).
 */
export function choicePricing(choices: ModelChoices, modelField: string, countField?: string): BlockPricing {
  const prices = new Map(Object.entries(choices).map(([label, choice]) => [label, runPrice(choice.model)]));
  if (!countField) return { modelField, prices };
  const counted = Object.entries(choices).filter(([, choice]) => choice.params[countField] !== undefined);
  const countMax = Math.max(
    1,
    ...counted.map(([, c]) => (MODELS[c.model] as ModelSpec).inputs[c.params[countField]!]?.maximum ?? 1),
  );
  return { modelField, prices, countField, countMax, countedChoices: new Set(counted.map(([label]) => label)) };
}

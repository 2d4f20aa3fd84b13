/**
 * What a run cost after it ran, from the ended prediction and the block's price table
 * (`BlockPricing`, from `shared/flux/prices.ts`). Only what the prediction shows is counted; a
 * price or quantity that is not known stays unknown, never guessed. Replicate's bill is the truth.
 */
import { dataUriPixelSize, type PixelSize } from '../image/image-size.js';
import type { Prediction } from '../replicate/types.js';
import { roundUsd, type BlockPricing, type PriceUnit, type RunPrice } from './pricing.js';

/** One prediction's cost, or why it is unknown. */
export interface ActualCost {
  /** The prediction's id; absent when the run showed no ended prediction. */
  readonly prediction?: string;
  /** The model the price is for (`owner/name`, as the price table names it), or the prediction's. */
  readonly model?: string;
  readonly unit?: PriceUnit;
  /** Images, megapixels or seconds (`metrics.predict_time`) the prediction was billed for; absent when unknown. */
  readonly quantity?: number;
  /** USD per unit; absent when unknown. */
  readonly usdPerUnit?: number;
  /** quantity × usdPerUnit, rounded to 6 decimals; null when unknown. */
  readonly usd: number | null;
  /** Why `usd` is null, in words (`no known price for ...`). */
  readonly unknown?: string;
}

/** Options of {@link actualCost}. */
export interface ActualCostOptions {
  /**
   * The pixel sizes of the prediction's outputs, in order, for a price per megapixel, when the
   * host has read them; an output without one is read from its `data:` URI, else its size is unknown.
   */
  readonly outputSizes?: ReadonlyArray<PixelSize | undefined>;
}

/**
 * The price table entry of the prediction's model: by `owner/name` or `owner/name:version` in `byModel`, by `owner/name` or
 * `owner/name:version` among the choices, or the block's only price.
 */
function priceOf(prediction: Prediction, pricing: BlockPricing): RunPrice | undefined {
  const { model, version } = prediction;
  const known =
    model === undefined
      ? undefined
      : (pricing.byModel?.get(model) ??
        (version === undefined ? undefined : pricing.byModel?.get(`${model}:${version}`)));
  if (known) return known;
  const prices = [...pricing.prices.values()];
  const found = prices.find((p) => p.model === model || (version !== undefined && p.model === `${model}:${version}`));
  // A block that runs any model (Replicate Model, the trainer) has one entry, for whatever it ran.
  return found ?? (prices.length === 1 ? prices[0] : undefined);
}

/** The output values of a prediction: a list, one value, or none. */
function outputsOf(prediction: Prediction): unknown[] {
  const { output } = prediction;
  const items = Array.isArray(output) ? output : [output];
  return items.filter((item) => item !== null && item !== undefined && item !== '');
}

const unknown = (base: Omit<ActualCost, 'usd'>, why: string): ActualCost => ({ ...base, usd: null, unknown: why });

/**
 * The cost of one ended prediction by its model's price: outputs × USD per image; the outputs'
 * megapixels × USD per megapixel (only when every output's size is known: `options.outputSizes`
 * or a `data:` URI); or `metrics.predict_time` (s) × USD per second of the model's hardware.
 * Unknown (`usd` null, with the reason in `unknown`) when the price table has no price for the
 * model, or the prediction lacks what the unit needs.
 * @param pricing The block's `pricing`; undefined for a block that makes no paid request.
 */
export function actualCost(
  prediction: Prediction,
  pricing: BlockPricing | undefined,
  options: ActualCostOptions = {},
): ActualCost {
  const base = { prediction: prediction.id, model: prediction.model };
  const price = pricing && priceOf(prediction, pricing);
  if (!price) return unknown(base, `no price for ${prediction.model ?? 'its model'} in the price table`);
  const priced = { ...base, model: prediction.model ?? price.model, unit: price.unit };
  if (price.usd === null) return unknown(priced, `no known price for ${price.model}`);
  const cost = (quantity: number): ActualCost => ({
    ...priced,
    quantity: roundUsd(quantity),
    usdPerUnit: price.usd!,
    usd: roundUsd(quantity * price.usd!),
  });
  const outputs = outputsOf(prediction);
  if (price.unit === 'image') return cost(outputs.length);
  if (price.unit === 'megapixel') {
    const sizes = outputs.map(
      (output, i) => options.outputSizes?.[i] ?? (typeof output === 'string' ? dataUriPixelSize(output) : undefined),
    );
    if (sizes.some((size) => size === undefined))
      return unknown(priced, 'priced per megapixel, and the size of its output images is unknown');
    return cost(sizes.reduce((sum, size) => sum + (size!.width * size!.height) / 1e6, 0));
  }
  const seconds = (prediction as { metrics?: { predict_time?: unknown } }).metrics?.predict_time;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0)
    return unknown(priced, 'priced per second, and the prediction gave no metrics.predict_time');
  return cost(seconds);
}

/** A run of a priced block that showed no ended prediction (it failed first, timed out, or ran elsewhere). */
export const NO_PREDICTION_SEEN: ActualCost = {
  usd: null,
  unknown:
    'no ended prediction was seen: the run failed before one, was stopped or timed out, ran a training, or ran on a worker',
};

const UNIT_WORDS: Readonly<Record<PriceUnit, string>> = { image: 'image', megapixel: 'megapixel', second: 's' };

/**
 * `black-forest-labs/flux-schnell: 4 images x $0.003 = $0.012`, `...: unknown (no known price for ...)`,
 * or `unknown (no ended prediction was seen: ...)`.
 */
export function describeActualCost(cost: ActualCost): string {
  if (cost.model === undefined) return `unknown (${cost.unknown})`;
  const { model } = cost;
  if (cost.usd === null) return `${model}: unknown (${cost.unknown})`;
  const { quantity = 0, unit = 'image', usdPerUnit = 0 } = cost;
  const words = unit === 'second' ? `${quantity} s` : `${quantity} ${UNIT_WORDS[unit]}${quantity === 1 ? '' : 's'}`;
  return `${model}: ${words} x $${usdPerUnit}${unit === 'second' ? '/s' : ''} = $${cost.usd}`;
}

/** Costs added up: the known USD, and how many are unknown (the total is at least `knownUsd`). */
export function totalCost(costs: readonly ActualCost[]): { knownUsd: number; unknown: number } {
  let knownUsd = 0;
  let unknownCount = 0;
  for (const cost of costs) {
    if (cost.usd === null) unknownCount += 1;
    else knownUsd += cost.usd;
  }
  return { knownUsd: roundUsd(knownUsd), unknown: unknownCount };
}

/**
 * What a block's runs cost, in the shape hosts read: AutoGPT's block cost (`BlockCost`:
 * `cost_amount`, `cost_type`, `cost_filter`, from autogpt_platform/backend/backend/data/cost.py)
 * and the worst-case USD of one run for estimates. The prices come from `shared/flux/prices.ts`;
 * this layer only carries them, so it imports nothing of `shared/flux/`.
 */

/** How a price is counted: per output image, per output megapixel, or per second of hardware time. */
export type PriceUnit = 'image' | 'megapixel' | 'second';

/** One model's price. `usd` null: unknown (never guessed). */
export interface RunPrice {
  /** The Replicate model, `owner/name`, or a description (`any model`). */
  readonly model: string;
  /** USD per `unit`; null when unknown. */
  readonly usd: number | null;
  readonly unit: PriceUnit;
}

/**
 * How a block is billed: the model each value of its model field runs, with that model's price,
 * and the field that multiplies a run's images. Blocks that make no paid request have none.
 */
export interface BlockPricing {
  /** The input field that picks the model (`model`, `replicate_model_name`); absent: the block runs one model. */
  readonly modelField?: string;
  /** Price by model field value; one entry under `''` when there is no model field. */
  readonly prices: ReadonlyMap<string, RunPrice>;
  /** The input field asking for 1..`countMax` images per run (`num_outputs`), for the models that take it. */
  readonly countField?: string;
  /** The most images one run may ask for through `countField`. */
  readonly countMax?: number;
  /** The model field values whose model takes `countField`; the others make one image per run. */
  readonly countedChoices?: ReadonlySet<string>;
  /**
   * Prices by the model a prediction ran (`owner/name`, or `owner/name:version` for a community model), for a block that runs models it does not
   * list as choices (Replicate Model): used after a run, so a known model's run has a known cost.
   */
  readonly byModel?: ReadonlyMap<string, RunPrice>;
}

/**
 * A block cost as the AutoGPT platform declares it (`BlockCost`), with this package's exact
 * figure beside it. `cost_amount` is a whole number of AutoGPT credits: here one credit is one US
 * cent, rounded up (our assumption, not checked against the platform's own credit value: a
 * platform that values credits otherwise converts from `cost_usd`, the exact USD of one run).
 */
export interface BlockCost {
  readonly cost_amount: number;
  readonly cost_type: 'run' | 'byte' | 'second';
  /** The inputs this cost applies to (AutoGPT matches them against the node's input). */
  readonly cost_filter: Readonly<Record<string, string | number>>;
  readonly cost_usd: number;
  readonly model: string;
}

/** A model choice whose price is unknown: listed instead of given a cost. */
export interface UnpricedChoice {
  readonly cost_filter: Readonly<Record<string, string | number>>;
  readonly model: string;
}

/** USD rounded to 6 decimals, so sums of prices print as they read (0.1 + 0.2 = 0.3). */
export const roundUsd = (usd: number): number => Math.round(usd * 1e6) / 1e6;

/** AutoGPT credits (cents) for `usd`, rounded up: a cost is never shown lower than it is. */
const credits = (usd: number): number => Math.ceil(roundUsd(usd * 100));

/**
 * A block's costs in AutoGPT's shape: for each model choice with a known per-image price, one
 * `run` cost per image count it may ask for (`cost_filter` naming the model field's value and,
 * where the model takes it, the count field's value), and the choices whose price is unknown or
 * not per image (per megapixel or second: a run's cost is known only after it).
 * @returns `{ costs: [], unpriced: [] }` for a block without pricing (it makes no paid request).
 */
export function blockCosts(pricing: BlockPricing | undefined): { costs: BlockCost[]; unpriced: UnpricedChoice[] } {
  const costs: BlockCost[] = [];
  const unpriced: UnpricedChoice[] = [];
  if (!pricing) return { costs, unpriced };
  for (const [value, price] of pricing.prices) {
    const filter = pricing.modelField ? { [pricing.modelField]: value } : {};
    if (price.usd === null || price.unit !== 'image') {
      unpriced.push({ cost_filter: filter, model: price.model });
      continue;
    }
    const counted = pricing.countField && pricing.countMax && (pricing.countedChoices?.has(value) ?? false);
    const counts = counted ? Array.from({ length: pricing.countMax! }, (_, i) => i + 1) : [1];
    for (const count of counts) {
      const usd = roundUsd(price.usd * count);
      costs.push({
        cost_amount: credits(usd),
        cost_type: 'run',
        cost_filter: counted ? { ...filter, [pricing.countField!]: count } : filter,
        cost_usd: usd,
        model: price.model,
      });
    }
  }
  return { costs, unpriced };
}

/**
 * The price of a call, for a tool description: `Price per call on Replicate: Flux Schnell
 * $0.003 per image (x num_outputs), Flux Pro $0.055 per image; unknown for Flux Kontext Dev
 * (docs/costs.md).` Undefined for a block without pricing (it makes no paid request).
 */
export function describePricing(pricing: BlockPricing | undefined): string | undefined {
  if (!pricing) return undefined;
  const known: string[] = [];
  const unknown: string[] = [];
  for (const [value, price] of pricing.prices) {
    const name = value || price.model;
    if (price.usd === null || price.unit !== 'image') {
      unknown.push(name);
      continue;
    }
    const counted = pricing.countField && pricing.countedChoices?.has(value);
    known.push(`${name} $${roundUsd(price.usd)} per image${counted ? ` (x ${pricing.countField})` : ''}`);
  }
  const parts = [known.join(', '), unknown.length ? `unknown for ${unknown.join(', ')}` : ''].filter(Boolean);
  return `Price per call on Replicate: ${parts.join('; ')} (docs/costs.md).`;
}

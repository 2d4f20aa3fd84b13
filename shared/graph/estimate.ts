import { shapeOf } from '../framework/json-schema.js';
import { roundUsd, type BlockPricing, type RunPrice } from '../framework/pricing.js';
import type { BlockRegistry } from '../framework/registry.js';
import { checkGraph, type CheckedGraph, type CheckedNode, type CheckGraphOptions } from './check-graph.js';
import { nodeRuns } from './fan-out.js';

/** One node's worst-case cost. */
export interface NodeCost {
  readonly node: string;
  readonly block: string;
  /** Worst-case runs of the node (fan-out along links, as `worstCaseNodeRuns` counts). */
  readonly runs: number;
  /** The model it runs (the priciest one when its model input is linked); absent for a free block. */
  readonly model?: string;
  /** Images one run asks for (`num_outputs`, its most when linked); 1 for models without it. */
  readonly imagesPerRun: number;
  /** USD per image; null when unknown or not billed per image. */
  readonly usdPerImage: number | null;
  /** runs × imagesPerRun × usdPerImage; 0 for a block that makes no paid request; null when unknown. */
  readonly usd: number | null;
}

/** A graph's worst-case cost before it runs. */
export interface GraphCostEstimate {
  /** Every node, in topological order. */
  readonly nodes: readonly NodeCost[];
  /** Sum of the nodes whose cost is known, in USD. */
  readonly knownUsd: number;
  /** Nodes whose cost is unknown: the total is at least `knownUsd`. */
  readonly unknown: readonly string[];
}

/** The value of `field` a node runs with: fixed, or its schema default when unset. */
function fixedValue(node: CheckedNode, field: string): unknown {
  if (Object.hasOwn(node.defaults, field)) return node.defaults[field];
  const parsed = shapeOf(node.block.inputSchema)[field]?.safeParse(undefined);
  return parsed?.success ? parsed.data : undefined;
}

/** The choices a node may run: the fixed one, or every one when its model input is linked. */
function choicesOf(node: CheckedNode, pricing: BlockPricing): string[] {
  if (!pricing.modelField) return [...pricing.prices.keys()];
  if (node.linked.has(pricing.modelField)) return [...pricing.prices.keys()];
  const value = fixedValue(node, pricing.modelField);
  return typeof value === 'string' && pricing.prices.has(value) ? [value] : [...pricing.prices.keys()];
}

/** Images per run of a node with this choice: the count field's fixed value, its most when linked, else 1. */
function imagesOf(node: CheckedNode, pricing: BlockPricing, choice: string): number {
  const { countField, countMax = 1, countedChoices } = pricing;
  if (!countField || !countedChoices?.has(choice)) return 1;
  if (node.linked.has(countField)) return countMax;
  const value = fixedValue(node, countField);
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 ? value : 1;
}

/** The worst choice of a node: the priciest run, or an unknown one (which might be any price). */
function worstChoice(node: CheckedNode, pricing: BlockPricing): { price: RunPrice; images: number } {
  let worst: { price: RunPrice; images: number; usd: number } | undefined;
  for (const choice of choicesOf(node, pricing)) {
    const price = pricing.prices.get(choice)!;
    const images = imagesOf(node, pricing, choice);
    if (price.usd === null || price.unit !== 'image') return { price, images };
    const usd = price.usd * images;
    if (!worst || usd > worst.usd) worst = { price, images, usd };
  }
  return worst!;
}

/**
 * The worst-case cost of a checked graph, per node and in total, without running anything: each
 * node's worst-case runs (fan-out along links, `nodeRuns`, with a node's fixed `num_outputs`
 * instead of the block's most where it has one) × the images one run asks for × the model's
 * price per image (`Block.pricing`, from `shared/flux/prices.ts`). A linked model input counts
 * the priciest model; a linked `num_outputs` its most. A node whose price is unknown, or billed
 * by megapixel or hardware time, is listed in `unknown` and left out of `knownUsd`.
 */
export function estimateGraphCost(graph: CheckedGraph): GraphCostEstimate {
  const worst = new Map<string, { price: RunPrice; images: number }>();
  for (const node of graph.nodes.values())
    if (node.block.pricing) worst.set(node.id, worstChoice(node, node.block.pricing));
  const nodes: NodeCost[] = [];
  const unknown: string[] = [];
  let knownUsd = 0;
  const perRun = (node: { id: string }, output: string) => {
    const checked = graph.nodes.get(node.id)!;
    // Only a block whose `result` count is its count field (num_outputs) yields fewer when asked for fewer.
    if (!checked.block.pricing?.countField || checked.block.outputsPerRun?.[output] === undefined) return undefined;
    return worst.get(node.id)?.images;
  };
  for (const { node: id, runs } of nodeRuns(graph.nodes, graph.linksFrom, perRun)) {
    const node = graph.nodes.get(id)!;
    const choice = worst.get(id);
    if (!choice) {
      nodes.push({ node: id, block: node.block.name, runs, imagesPerRun: 0, usdPerImage: 0, usd: 0 });
      continue;
    }
    const { price, images } = choice;
    const known = price.usd !== null && price.unit === 'image';
    const usd = known ? roundUsd(runs * images * price.usd!) : null;
    if (usd === null) unknown.push(id);
    else knownUsd += usd;
    nodes.push({
      node: id,
      block: node.block.name,
      runs,
      model: price.model,
      imagesPerRun: images,
      usdPerImage: known ? price.usd : null,
      usd,
    });
  }
  return { nodes, knownUsd: roundUsd(knownUsd), unknown };
}

/**
 * Checks a graph (`checkGraph`, which refuses one past `maxNodeRuns`) and estimates its cost.
 * @throws {GraphError} as `checkGraph`.
 */
export function estimateGraph(
  graph: unknown,
  registry: BlockRegistry,
  options: CheckGraphOptions = {},
): GraphCostEstimate {
  return estimateGraphCost(checkGraph(graph, registry, options));
}

/** `$0.012`. */
export const formatUsd = (usd: number): string => `$${roundUsd(usd)}`;

/** The total as one phrase: `$0.172`, or `at least $0.172, 2 nodes unknown (edit, any)`. */
export function describeTotal(estimate: GraphCostEstimate): string {
  const { knownUsd, unknown } = estimate;
  if (!unknown.length) return formatUsd(knownUsd);
  return `at least ${formatUsd(knownUsd)}, ${unknown.length} node${unknown.length === 1 ? '' : 's'} unknown (${unknown.join(', ')})`;
}

/** One line per node and a total line, as `flux-blocks run-graph --estimate` prints them. */
export function describeEstimate(estimate: GraphCostEstimate): string[] {
  const lines = estimate.nodes.map((n) => {
    const runs = `${n.runs} run${n.runs === 1 ? '' : 's'}`;
    if (n.model === undefined) return `${n.node} (${n.block}): ${runs}, no charge`;
    const images = `${n.imagesPerRun} image${n.imagesPerRun === 1 ? '' : 's'}`;
    if (n.usd === null) return `${n.node} (${n.block}, ${n.model}): ${runs} x ${images}, price unknown`;
    return `${n.node} (${n.block}, ${n.model}): ${runs} x ${images} x ${formatUsd(n.usdPerImage!)} = ${formatUsd(n.usd)}`;
  });
  lines.push(`Total, worst case: ${describeTotal(estimate)}`);
  return lines;
}

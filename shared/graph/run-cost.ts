import { describeActualCost, totalCost, type ActualCost } from '../framework/actual-cost.js';
import { roundUsd } from '../framework/pricing.js';

/** What one prediction of a node run cost (`actualCost`), with the node and its block. */
export type NodeRunCost = ActualCost & { readonly node: string; readonly block: string };

/**
 * The actual cost of a run, one line per node that ran a priced block and a total line, as
 * `flux-blocks run-graph` prints them on stderr after a run:
 * `generate (ReplicateFluxAdvancedModelBlock): black-forest-labs/flux-schnell: 4 images x $0.003 = $0.012`,
 * for a node that ran several times `save4 (...): 4 runs, $0.012` (`, 1 unknown: why`),
 * and `Actual cost: $0.012` or `Actual cost: at least $0.012, 1 unknown (edit)`.
 */
export function describeRunCosts(costs: readonly NodeRunCost[]): string[] {
  const byNode = new Map<string, NodeRunCost[]>();
  for (const cost of costs) byNode.set(cost.node, [...(byNode.get(cost.node) ?? []), cost]);
  const lines: string[] = [];
  const unknownNodes: string[] = [];
  for (const [node, list] of byNode) {
    const head = `${node} (${list[0]!.block})`;
    const { knownUsd, unknown } = totalCost(list);
    if (unknown) unknownNodes.push(node);
    if (list.length === 1) {
      lines.push(`${head}: ${describeActualCost(list[0]!)}`);
      continue;
    }
    const why = list.find((cost) => cost.usd === null)?.unknown;
    lines.push(`${head}: ${list.length} runs, $${roundUsd(knownUsd)}${unknown ? `, ${unknown} unknown: ${why}` : ''}`);
  }
  const { knownUsd } = totalCost(costs);
  lines.push(
    unknownNodes.length
      ? `Actual cost: at least $${knownUsd}, unknown for ${unknownNodes.length} node${unknownNodes.length === 1 ? '' : 's'} (${unknownNodes.join(', ')})`
      : `Actual cost: $${knownUsd}`,
  );
  return lines;
}

// What a graph costs: the worst case before a run (next to Run) and the actual cost after it.
import type { CostEstimate, GraphProblem, RunCost } from '../protocol.js';

/**
 * The graph's worst-case cost in USD (`Worst case: $0.012`), the nodes whose price is unknown by
 * name and model, and each node's line under Per node; a graph that cannot run yet has none.
 */
export function CostEstimateView({ estimate }: { estimate: CostEstimate | GraphProblem | undefined }) {
  if (!estimate) return null;
  if ('error' in estimate)
    return (
      <p className="estimate" data-testid="estimate">
        Worst case: once the graph can run
      </p>
    );
  return (
    <div className="estimate">
      <p data-testid="estimate" title="The most this graph can cost on Replicate, before it runs (docs/costs.md)">
        Worst case: {estimate.total}
      </p>
      {estimate.unknown.length > 0 && (
        <ul className="estimate-unknown" data-testid="estimate-unknown" aria-label="Nodes whose price is unknown">
          {estimate.unknown.map(({ node, model }) => (
            <li key={node}>
              {node}: price unknown{model ? ` (${model})` : ''}
            </li>
          ))}
        </ul>
      )}
      <details className="estimate-nodes">
        <summary>Per node</summary>
        <ul data-testid="estimate-nodes">
          {estimate.nodes.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      </details>
    </div>
  );
}

/** The run's actual cost from its ended predictions (`Actual cost: $0.012`), each priced node's line under Per node. */
export function RunCostView({ cost }: { cost: RunCost }) {
  return (
    <div className="run-cost">
      <p data-testid="actual-cost">Actual cost: {cost.total}</p>
      <details>
        <summary>Per node</summary>
        <ul data-testid="actual-cost-nodes">
          {cost.nodes.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      </details>
    </div>
  );
}

// The runs of this session, newest first: when, how they ended, their results, and their graph to reopen.
import type { RunStatus } from '../protocol.js';
import type { GraphFile } from './graph-file.js';
import { Results } from './Results.js';
import type { Output } from './run-results.js';

/** Runs kept in the list; older ones drop off. */
export const KEPT_HISTORY = 10;

/** One finished run of this session. */
export interface PastRun {
  readonly id: string;
  readonly graph: GraphFile;
  /** When it started, ms since the epoch. */
  readonly startedAt: number;
  readonly status: RunStatus;
  readonly outputs: readonly Output[];
}

export function RunHistory({ runs, onReopen }: { runs: readonly PastRun[]; onReopen: (run: PastRun) => void }) {
  if (runs.length === 0) return null;
  return (
    <section className="history" data-testid="history" aria-label="Runs of this session">
      <h3>Runs of this session</h3>
      <ol>
        {runs.map((run) => (
          <li key={run.id} data-testid="history-run">
            <details>
              <summary>
                {new Date(run.startedAt).toLocaleTimeString()}{' '}
                <span className={`run-status ${run.status}`}>{run.status}</span> {run.graph.nodes.length} node
                {run.graph.nodes.length === 1 ? '' : 's'}
              </summary>
              <button type="button" data-testid="reopen" onClick={() => onReopen(run)}>
                Reopen this graph
              </button>
              <Results outputs={run.outputs} testId="history-results" />
            </details>
          </li>
        ))}
      </ol>
    </section>
  );
}

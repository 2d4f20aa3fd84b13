// Run and Cancel with the graph's worst-case cost, what stops a run, the run's status, actual cost and
// results, and the runs of this session.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { useReactFlow, type Edge } from '@xyflow/react';
import type { GraphProblem, RunCost, RunEvent, RunStatus, StudioInfo } from '../protocol.js';
import { cancelRun, startRun, watchRun } from './api.js';
import { toGraph, type BlockNodeData, type BlockNodeT, type GraphFile } from './graph-file.js';
import { Results } from './Results.js';
import type { PastRun } from './RunHistory.js';
import type { Output } from './run-results.js';
import { CostEstimateView, RunCostView } from './RunCost.js';
import { useEstimate } from './use-estimate.js';

export function RunPanel({
  info,
  graphText,
  problems,
  message,
  session,
  onProblem,
  onFinished,
  children,
}: {
  info?: StudioInfo;
  /** The graph as JSON without positions: its worst-case cost is shown next to Run. */
  graphText: string;
  /** Everything that stops a run now (field errors, the server's check); Run is refused while any. */
  problems: readonly string[];
  message: string;
  /** Changes when the canvas starts over (New): the last run's status and results go. */
  session: number;
  onProblem: (problem: GraphProblem | undefined) => void;
  /** Called once per run that ended, with its graph, start time, status and outputs. */
  onFinished: (run: PastRun) => void;
  /** Shown below the results (the run history). */
  children?: ReactNode;
}) {
  const { getNodes, getEdges, setNodes } = useReactFlow<BlockNodeT, Edge>();
  const [runId, setRunId] = useState<string>();
  const [ended, setEnded] = useState<RunStatus>();
  const [outputs, setOutputs] = useState<Output[]>([]);
  const [failure, setFailure] = useState<string>();
  const [cost, setCost] = useState<RunCost>();
  const estimate = useEstimate(graphText);
  const stop = useRef<() => void>(undefined);
  useEffect(() => () => stop.current?.(), []);
  // New: stop following the last run and forget what it showed.
  useEffect(() => {
    if (session === 0) return;
    stop.current?.();
    stop.current = undefined;
    setRunId(undefined);
    setEnded(undefined);
    setOutputs([]);
    setFailure(undefined);
    setCost(undefined);
  }, [session]);
  const running = runId !== undefined && ended === undefined;

  const patch = (node: string, change: (data: BlockNodeData) => Partial<BlockNodeData>) =>
    setNodes((nodes) => nodes.map((n) => (n.id === node ? { ...n, data: { ...n.data, ...change(n.data) } } : n)));

  const follow = (id: string, graph: GraphFile, startedAt: number) => {
    const seen: Output[] = [];
    return (event: RunEvent) => {
      if (event.type === 'node')
        patch(event.node, () => ({ status: event.status, percent: event.percent, message: event.message }));
      else if (event.type === 'output') {
        seen.push(event);
        setOutputs([...seen]);
        const { preview } = event;
        if (preview) patch(event.node, (data) => ({ previews: [...(data.previews ?? []), preview] }));
      } else {
        setEnded(event.status);
        if (event.message) setFailure(event.message);
        setCost(event.cost);
        onFinished({ id, graph, startedAt, status: event.status, outputs: seen });
      }
    };
  };

  async function run() {
    if (problems.length || running) return;
    setNodes((nodes) =>
      nodes.map((n) => ({
        ...n,
        data: { ...n.data, status: undefined, percent: undefined, message: undefined, previews: [] },
      })),
    );
    setOutputs([]);
    setEnded(undefined);
    setFailure(undefined);
    setCost(undefined);
    const graph = toGraph(getNodes(), getEdges());
    const startedAt = Date.now();
    const answer = await startRun(graph);
    if ('error' in answer) return onProblem(answer);
    setRunId(answer.id);
    stop.current?.();
    stop.current = watchRun(answer.id, follow(answer.id, graph, startedAt));
  }

  return (
    <aside className="run-panel">
      {info && (
        <p className={`target${info.embedded ? ' embedded' : ''}`} data-testid="target">
          {info.target}
        </p>
      )}
      <div className="run-buttons">
        <button type="button" data-testid="run" onClick={run} disabled={running || problems.length > 0}>
          Run
        </button>
        <button type="button" data-testid="cancel" onClick={() => runId && void cancelRun(runId)} disabled={!running}>
          Cancel
        </button>
      </div>
      <CostEstimateView estimate={estimate} />
      <p className="message" role="status" data-testid="message">
        {message}
      </p>
      {problems.length > 0 && (
        <div className="blocked" data-testid="blocked">
          <p>Run waits for:</p>
          <ul className="problems" data-testid="problems" aria-label="Why Run is refused">
            {problems.map((problem) => (
              <li key={problem}>{problem}</li>
            ))}
          </ul>
        </div>
      )}
      {runId && (
        <p className={`run-status ${ended ?? 'running'}`} data-testid="run-status">
          {ended ? `Run ${ended}` : 'Running...'}
        </p>
      )}
      {failure && <p className="problems">{failure}</p>}
      {ended && cost && <RunCostView cost={cost} />}
      <Results outputs={outputs} />
      {children}
    </aside>
  );
}

// Run and Cancel, what stops a run, the run's live log and its results (image previews first).
import { useEffect, useRef, useState } from 'react';
import { useReactFlow, type Edge } from '@xyflow/react';
import type { GraphProblem, RunEvent, RunStatus, StudioInfo } from '../protocol.js';
import { cancelRun, startRun, watchRun } from './api.js';
import { toGraph, type BlockNodeData, type BlockNodeT } from './graph-file.js';

type Output = Extract<RunEvent, { type: 'output' }>;

export function RunPanel({
  info,
  problems,
  message,
  onProblem,
}: {
  info?: StudioInfo;
  /** Everything that stops a run now (field errors, the server's check); Run is refused while any. */
  problems: readonly string[];
  message: string;
  onProblem: (problem: GraphProblem | undefined) => void;
}) {
  const { getNodes, getEdges, setNodes } = useReactFlow<BlockNodeT, Edge>();
  const [runId, setRunId] = useState<string>();
  const [ended, setEnded] = useState<RunStatus>();
  const [outputs, setOutputs] = useState<Output[]>([]);
  const [failure, setFailure] = useState<string>();
  const stop = useRef<() => void>(undefined);
  useEffect(() => () => stop.current?.(), []);
  const running = runId !== undefined && ended === undefined;

  const patch = (node: string, change: (data: BlockNodeData) => Partial<BlockNodeData>) =>
    setNodes((nodes) => nodes.map((n) => (n.id === node ? { ...n, data: { ...n.data, ...change(n.data) } } : n)));

  const onEvent = (event: RunEvent) => {
    if (event.type === 'node')
      patch(event.node, () => ({ status: event.status, percent: event.percent, message: event.message }));
    else if (event.type === 'output') {
      setOutputs((all) => [...all, event]);
      const { preview } = event;
      if (preview) patch(event.node, (data) => ({ previews: [...(data.previews ?? []), preview] }));
    } else {
      setEnded(event.status);
      if (event.message) setFailure(event.message);
    }
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
    const answer = await startRun(toGraph(getNodes(), getEdges()));
    if ('error' in answer) return onProblem(answer);
    setRunId(answer.id);
    stop.current?.();
    stop.current = watchRun(answer.id, onEvent);
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
      <p className="message" role="status" data-testid="message">
        {message}
      </p>
      {problems.length > 0 && (
        <ul className="problems" data-testid="problems" aria-label="Why Run is refused">
          {problems.map((problem) => (
            <li key={problem}>{problem}</li>
          ))}
        </ul>
      )}
      {runId && (
        <p className={`run-status ${ended ?? 'running'}`} data-testid="run-status">
          {ended ? `Run ${ended}` : 'Running...'}
        </p>
      )}
      {failure && <p className="problems">{failure}</p>}
      <section className="results" data-testid="results" aria-label="Results">
        {outputs
          .filter((o) => o.preview)
          .map((o, i) => (
            <figure key={`${o.preview}-${i}`}>
              <img src={o.preview} alt={`${o.node}.${o.output}`} data-testid="result-image" />
              <figcaption>
                <a href={o.preview} target="_blank" rel="noreferrer">
                  {o.node}.{o.output}
                </a>
              </figcaption>
            </figure>
          ))}
        <ol className="log">
          {outputs
            .filter((o) => !o.preview)
            .map((o, i) => (
              <li key={i}>
                <b>
                  {o.node}.{o.output}
                </b>{' '}
                {short(o.value)}
              </li>
            ))}
        </ol>
      </section>
    </aside>
  );
}

/** A value as a line of the log: JSON, cut at 200 characters (data: URIs are long). */
function short(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

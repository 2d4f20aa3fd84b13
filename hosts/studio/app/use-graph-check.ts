// The graph as the server sees it: kept in localStorage, and checked by the server a moment after each edit.
import { useEffect, useMemo, useState } from 'react';
import type { Edge } from '@xyflow/react';
import type { GraphProblem } from '../protocol.js';
import { checkGraph } from './api.js';
import { toGraph, type BlockNodeT } from './graph-file.js';
import { remember } from './storage.js';

/** Wait after the last edit before asking the server to check the graph, in ms. */
const CHECK_DELAY_MS = 250;

/**
 * The graph file of the canvas (no positions, no run state) and the server's last check of it.
 * Nothing is kept or checked before `loaded`; `say` shows a failed check request.
 */
export function useGraphCheck(nodes: BlockNodeT[], edges: Edge[], loaded: boolean, say: (message: string) => void) {
  const [problem, setProblem] = useState<GraphProblem>();
  const graph = useMemo(() => toGraph(nodes, edges), [nodes, edges]);
  // Without metadata (positions): moving a node needs no new check.
  const shape = useMemo(
    () => JSON.stringify({ ...graph, nodes: graph.nodes.map(({ metadata: _m, ...node }) => node) }),
    [graph],
  );
  useEffect(() => {
    if (loaded) remember(graph);
  }, [graph, loaded]);
  useEffect(() => {
    if (!loaded || nodes.length === 0) return setProblem(undefined);
    const timer = setTimeout(() => {
      checkGraph(JSON.parse(shape) as typeof graph).then(setProblem, (error: Error) => say(error.message));
    }, CHECK_DELAY_MS);
    return () => clearTimeout(timer);
    // `shape` alone: a run's status needs no new check.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, loaded]);
  return { graph, problem, setProblem };
}

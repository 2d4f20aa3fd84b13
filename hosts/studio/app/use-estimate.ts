// The run panel's estimate: the graph's worst-case cost, asked of the server a moment after each edit.
import { useEffect, useState } from 'react';
import type { CostEstimate, GraphProblem } from '../protocol.js';
import { estimateCost } from './api.js';
import type { GraphFile } from './graph-file.js';

/** Wait after the last edit before asking for an estimate, in ms (as the graph check waits). */
const ESTIMATE_DELAY_MS = 250;

/**
 * The server's estimate of `graphText` (the graph file as JSON, without positions): the
 * estimate, the problem that keeps the graph from running (no estimate then), or undefined
 * while none was asked for (an empty canvas) or the request failed.
 */
export function useEstimate(graphText: string): CostEstimate | GraphProblem | undefined {
  const [answer, setAnswer] = useState<CostEstimate | GraphProblem>();
  useEffect(() => {
    const graph = JSON.parse(graphText) as GraphFile;
    if (!graph.nodes.length) return setAnswer(undefined);
    let current = true;
    const timer = setTimeout(() => {
      estimateCost(graph).then(
        (next) => current && setAnswer(next),
        // The graph check says when the server cannot be reached; the estimate just goes.
        () => current && setAnswer(undefined),
      );
    }, ESTIMATE_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [graphText]);
  return answer;
}

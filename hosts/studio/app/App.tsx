// The studio: palette, canvas and run panel around one React Flow graph, kept in localStorage.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  Background,
  Controls,
  ReactFlow,
  ReactFlowProvider,
  useEdgesState,
  useNodesState,
  useReactFlow,
  type Edge,
} from '@xyflow/react';
import type { BlockInfo, Example, GraphProblem, StudioInfo } from '../protocol.js';
import { getBlocks, getExamples, getInfo } from './api.js';
import { BlockNode } from './BlockNode.js';
import { edgeId, fromGraph, type BlockNodeT, type GraphFile } from './graph-file.js';
import { GraphMenu } from './GraphMenu.js';
import { nodeInputOf } from './model-input.js';
import { missingOf, problemsOf } from './NodeForm.js';
import { Palette } from './Palette.js';
import { KEPT_HISTORY, RunHistory, type PastRun } from './RunHistory.js';
import { RunPanel } from './RunPanel.js';
import { recall } from './storage.js';
import { StudioContext } from './studio-context.js';
import { useAddBlock } from './use-add-block.js';
import { useGraphCheck } from './use-graph-check.js';
import { useLinking } from './use-linking.js';

// At module scope: a new object per render would remount every node.
const nodeTypes = { block: BlockNode };

/**
 * Field errors of every node (linked inputs are not required; an any-model node's input against
 * its model's form, when loaded), then the server's check (unless it
 * names a node with empty fields, which says the same), then an empty canvas.
 */
function problemsOfCanvas(nodes: BlockNodeT[], edges: Edge[], problem: GraphProblem | undefined): string[] {
  const incomplete = new Set<string>();
  const found = nodes.flatMap((node) => {
    const linked = edges.filter((edge) => edge.target === node.id).map((edge) => edge.targetHandle ?? '');
    const { inputSchema, imageInputs } = nodeInputOf(node.data.block, node.data.values, node.data.modelForm, linked);
    if (missingOf(inputSchema, imageInputs, node.data.values, linked).length) incomplete.add(node.id);
    return problemsOf(inputSchema, imageInputs, node.data.values, linked).map((text) => `${node.id}: ${text}`);
  });
  if (problem && !(problem.node && incomplete.has(problem.node))) found.push(problem.error);
  if (nodes.length === 0) found.push('The canvas is empty: drag a block from the palette, or open an example.');
  return found;
}

/** The edges, with the link the server's check names marked with its message. */
function markRefusedLink(edges: Edge[], problem: GraphProblem | undefined): Edge[] {
  const link = problem?.link;
  if (!link) return edges;
  const bad = edgeId(link.source_id, link.source_name, link.sink_id, link.sink_name);
  return edges.map((edge) =>
    edge.id === bad ? { ...edge, label: problem.error, className: 'invalid', animated: true } : edge,
  );
}

/** Messages about an action that failed: they stay only until the graph next changes. */
const PASSING = /^(Refused|Could not)/;

/** Saves the graph file as graph.json through the browser's download. */
function download(graph: GraphFile): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(graph, null, 2)], { type: 'application/json' }));
  Object.assign(document.createElement('a'), { href: url, download: 'graph.json' }).click();
  URL.revokeObjectURL(url);
}

function Studio() {
  const [info, setInfo] = useState<StudioInfo>();
  const [blocks, setBlocks] = useState<BlockInfo[]>([]);
  const [examples, setExamples] = useState<Example[]>([]);
  const [nodes, setNodes, onNodesChange] = useNodesState<BlockNodeT>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>([]);
  const [note, setNote] = useState<{ text: string; until?: string }>({ text: '' });
  const [loaded, setLoaded] = useState(false);
  const [session, setSession] = useState(0);
  const [history, setHistory] = useState<PastRun[]>([]);
  const { fitView } = useReactFlow<BlockNodeT, Edge>();
  const keys = useMemo(() => info?.credentials ?? [], [info]);
  // The graph as last saved (exported or opened); New asks before discarding anything else.
  const saved = useRef('');
  const current = useRef('');
  const setMessage = useCallback(
    (text: string) => setNote({ text, until: PASSING.test(text) ? current.current : undefined }),
    [],
  );
  const { graph, problem, setProblem } = useGraphCheck(nodes, edges, loaded, setMessage);
  const graphText = useMemo(
    () => JSON.stringify({ ...graph, nodes: graph.nodes.map(({ metadata: _m, ...node }) => node) }),
    [graph],
  );
  current.current = graphText;
  // A refusal is about the action before: once the graph changed since, it no longer holds.
  const message = note.until !== undefined && note.until !== graphText ? '' : note.text;
  const linking = useLinking(setEdges, setMessage);
  const { add, onDragOver, onDrop } = useAddBlock(blocks, keys, setNodes, setMessage);

  const open = useCallback(
    (read: () => unknown, name: string, known = blocks, knownKeys = keys) => {
      try {
        const graph = fromGraph(read(), known, knownKeys);
        setNodes(graph.nodes);
        setEdges(graph.edges);
        saved.current = '';
        setMessage(`Opened ${name}`);
        void fitView({ padding: 0.1 });
      } catch (error) {
        setMessage(`Could not open ${name}: ${(error as Error).message}`);
      }
    },
    [blocks, keys, setNodes, setEdges, fitView, setMessage],
  );

  /** New: asks before discarding a graph not exported, then clears the canvas and the last run's results and messages. */
  const startOver = useCallback(() => {
    if (nodes.length > 0 && saved.current !== graphText && !window.confirm('Discard this graph? It was not exported.'))
      return;
    setNodes([]);
    setEdges([]);
    setProblem(undefined);
    setNote({ text: '' });
    setSession((n) => n + 1);
  }, [nodes.length, graphText, setNodes, setEdges, setProblem]);

  useEffect(() => {
    Promise.all([getInfo(), getBlocks(), getExamples()]).then(
      ([i, b, e]) => {
        setInfo(i);
        setBlocks(b);
        setExamples(e);
        const kept = recall();
        if (kept) open(() => kept, 'the graph from your last visit', b, i.credentials);
        setLoaded(true);
      },
      (error: Error) => setMessage(error.message),
    );
    // Once, on load; `open` is read with the answers passed in.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const problems = useMemo(() => problemsOfCanvas(nodes, edges, problem), [nodes, edges, problem]);
  const shownEdges = useMemo(() => markRefusedLink(edges, problem), [edges, problem]);

  const context = useMemo(() => ({ keys, problem }), [keys, problem]);
  return (
    <StudioContext.Provider value={context}>
      <div className="studio">
        <header className="top">
          <h1>flux-blocks studio</h1>
          <GraphMenu
            examples={examples}
            onOpen={open}
            onExport={() => {
              download(graph);
              saved.current = graphText;
            }}
            onClear={startOver}
          />
        </header>
        <Palette blocks={blocks} onAdd={add} />
        <div className="canvas" onDragOver={onDragOver} onDrop={onDrop} data-testid="canvas">
          <ReactFlow
            nodes={nodes}
            edges={shownEdges}
            nodeTypes={nodeTypes}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            {...linking}
            deleteKeyCode={['Delete']}
            connectionRadius={12}
            minZoom={0.2}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls />
          </ReactFlow>
        </div>
        <RunPanel
          info={info}
          graphText={graphText}
          problems={problems}
          message={message}
          session={session}
          onProblem={setProblem}
          onFinished={(run) => setHistory((runs) => [run, ...runs].slice(0, KEPT_HISTORY))}
        >
          <RunHistory
            runs={history}
            onReopen={(run) => open(() => run.graph, `the run of ${new Date(run.startedAt).toLocaleTimeString()}`)}
          />
        </RunPanel>
      </div>
    </StudioContext.Provider>
  );
}

export function App() {
  return (
    <ReactFlowProvider>
      <Studio />
    </ReactFlowProvider>
  );
}

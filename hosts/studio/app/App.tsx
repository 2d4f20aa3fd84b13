// The studio: palette, canvas and run panel around one React Flow graph, kept in localStorage.
import { useCallback, useEffect, useMemo, useState } from 'react';
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
import { problemsOf } from './NodeForm.js';
import { Palette } from './Palette.js';
import { RunPanel } from './RunPanel.js';
import { recall } from './storage.js';
import { StudioContext } from './studio-context.js';
import { useAddBlock } from './use-add-block.js';
import { useGraphCheck } from './use-graph-check.js';
import { useLinking } from './use-linking.js';

// At module scope: a new object per render would remount every node.
const nodeTypes = { block: BlockNode };

/** Field errors of every node (linked inputs are not required), then the server's check, then an empty canvas. */
function problemsOfCanvas(nodes: BlockNodeT[], edges: Edge[], problem: GraphProblem | undefined): string[] {
  const found = nodes.flatMap((node) => {
    const linked = edges.filter((edge) => edge.target === node.id).map((edge) => edge.targetHandle ?? '');
    return problemsOf(node.data.block.inputSchema, node.data.values, linked).map((text) => `${node.id}: ${text}`);
  });
  if (problem) found.push(problem.error);
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
  const [message, setMessage] = useState('');
  const [loaded, setLoaded] = useState(false);
  const { fitView } = useReactFlow<BlockNodeT, Edge>();
  const keys = useMemo(() => info?.credentials ?? [], [info]);
  const { graph, problem, setProblem } = useGraphCheck(nodes, edges, loaded, setMessage);
  const linking = useLinking(setEdges, setMessage);
  const { add, onDragOver, onDrop } = useAddBlock(blocks, keys, setNodes, setMessage);

  const open = useCallback(
    (read: () => unknown, name: string, known = blocks, knownKeys = keys) => {
      try {
        const graph = fromGraph(read(), known, knownKeys);
        setNodes(graph.nodes);
        setEdges(graph.edges);
        setMessage(`Opened ${name}`);
        void fitView({ padding: 0.1 });
      } catch (error) {
        setMessage(`Could not open ${name}: ${(error as Error).message}`);
      }
    },
    [blocks, keys, setNodes, setEdges, fitView],
  );

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
            onExport={() => download(graph)}
            onClear={() => {
              setNodes([]);
              setEdges([]);
            }}
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
        <RunPanel info={info} problems={problems} message={message} onProblem={setProblem} />
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

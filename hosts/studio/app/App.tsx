// The studio: palette, canvas and run panel around one React Flow graph, kept in localStorage.
import { useCallback, useEffect, useMemo, useState, type DragEvent } from 'react';
import {
  Background,
  Controls,
  ReactFlow,
  ReactFlowProvider,
  addEdge,
  useEdgesState,
  useNodesState,
  useReactFlow,
  type Connection,
  type Edge,
  type FinalConnectionState,
  type IsValidConnection,
} from '@xyflow/react';
import type { BlockInfo, Example, GraphProblem, StudioInfo } from '../protocol.js';
import { checkGraph, getBlocks, getExamples, getInfo } from './api.js';
import { BlockNode } from './BlockNode.js';
import { whyNot } from './connections.js';
import { edgeId, freshId, fromGraph, newNode, toGraph, type BlockNodeT } from './graph-file.js';
import { GraphMenu } from './GraphMenu.js';
import { problemsOf } from './NodeForm.js';
import { BLOCK_MIME, Palette } from './Palette.js';
import { RunPanel } from './RunPanel.js';
import { recall, remember } from './storage.js';
import { StudioContext } from './studio-context.js';

// At module scope: a new object per render would remount every node.
const nodeTypes = { block: BlockNode };

/** Wait after the last edit before asking the server to check the graph, in ms. */
const CHECK_DELAY_MS = 250;

function Studio() {
  const [info, setInfo] = useState<StudioInfo>();
  const [blocks, setBlocks] = useState<BlockInfo[]>([]);
  const [examples, setExamples] = useState<Example[]>([]);
  const [nodes, setNodes, onNodesChange] = useNodesState<BlockNodeT>([]);
  const [edges, setEdges, onEdgesChange] = useEdgesState<Edge>([]);
  const [message, setMessage] = useState('');
  const [problem, setProblem] = useState<GraphProblem>();
  const [loaded, setLoaded] = useState(false);
  const { screenToFlowPosition, getNodes, getEdges, fitView } = useReactFlow<BlockNodeT, Edge>();
  const keys = useMemo(() => info?.credentials ?? [], [info]);

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

  // The graph as the server sees it (no positions, no run state): what the check and localStorage follow.
  const graph = useMemo(() => toGraph(nodes, edges), [nodes, edges]);
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
      checkGraph(JSON.parse(shape) as typeof graph).then(setProblem, (error: Error) => setMessage(error.message));
    }, CHECK_DELAY_MS);
    return () => clearTimeout(timer);
    // `shape` alone: moving a node or a run's status needs no new check.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, loaded]);

  // Field errors of every node (linked inputs not required), then the server's check.
  const problems = useMemo(() => {
    const found = nodes.flatMap((node) => {
      const linked = edges.filter((edge) => edge.target === node.id).map((edge) => edge.targetHandle ?? '');
      return problemsOf(node.data.block.inputSchema, node.data.values, linked).map((text) => `${node.id}: ${text}`);
    });
    if (problem) found.push(problem.error);
    if (nodes.length === 0) found.push('The canvas is empty: drag a block from the palette, or open an example.');
    return found;
  }, [nodes, edges, problem]);

  const add = useCallback(
    (block: BlockInfo, position?: { x: number; y: number }) => {
      const canvas = document.querySelector('.canvas')!.getBoundingClientRect();
      const at =
        position ??
        screenToFlowPosition({ x: canvas.left + canvas.width / 3, y: canvas.top + 40 + 20 * (getNodes().length % 8) });
      const node = newNode(block, freshId(getNodes()), at, keys);
      setNodes((all) => [...all, node]);
      setMessage(`Added ${block.name} as ${node.id}`);
    },
    [screenToFlowPosition, getNodes, setNodes, keys],
  );

  const onDragOver = useCallback((e: DragEvent) => {
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
  }, []);
  const onDrop = useCallback(
    (e: DragEvent) => {
      e.preventDefault();
      const block = blocks.find((b) => b.id === e.dataTransfer.getData(BLOCK_MIME));
      if (block) add(block, screenToFlowPosition({ x: e.clientX, y: e.clientY }));
    },
    [blocks, add, screenToFlowPosition],
  );

  // isValidConnection only answers yes or no (and React Flow then skips onConnect), so the reason is given in onConnectEnd.
  const isValidConnection: IsValidConnection = useCallback(
    (link) => whyNot(link, getNodes(), getEdges()) === undefined,
    [getNodes, getEdges],
  );
  const onConnect = useCallback(
    (link: Connection) => {
      const reason = whyNot(link, getNodes(), getEdges());
      if (reason) return setMessage(`Refused: ${reason}`);
      setEdges((all) =>
        addEdge(
          { ...link, id: edgeId(link.source, link.sourceHandle ?? '', link.target, link.targetHandle ?? '') },
          all,
        ),
      );
      setMessage(`Linked ${link.source}.${link.sourceHandle} to ${link.target}.${link.targetHandle}`);
    },
    [getNodes, getEdges, setEdges],
  );
  const onConnectEnd = useCallback(
    (_event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      const { fromHandle: from, toHandle: to } = state;
      if (!from || !to || state.isValid) return;
      const [source, target] = from.type === 'source' ? [from, to] : [to, from];
      const reason = whyNot(
        {
          source: source.nodeId,
          sourceHandle: source.id ?? null,
          target: target.nodeId,
          targetHandle: target.id ?? null,
        },
        getNodes(),
        getEdges(),
      );
      setMessage(`Refused: ${reason ?? 'an input cannot feed an input'}`);
    },
    [getNodes, getEdges],
  );

  // The link the server's check names, marked with its message.
  const shownEdges = useMemo(() => {
    const bad =
      problem?.link &&
      edgeId(problem.link.source_id, problem.link.source_name, problem.link.sink_id, problem.link.sink_name);
    return bad
      ? edges.map((edge) =>
          edge.id === bad ? { ...edge, label: problem.error, className: 'invalid', animated: true } : edge,
        )
      : edges;
  }, [edges, problem]);

  const exportGraph = () => {
    const url = URL.createObjectURL(new Blob([JSON.stringify(graph, null, 2)], { type: 'application/json' }));
    const link = Object.assign(document.createElement('a'), { href: url, download: 'graph.json' });
    link.click();
    URL.revokeObjectURL(url);
  };

  const context = useMemo(() => ({ keys, problem }), [keys, problem]);
  return (
    <StudioContext.Provider value={context}>
      <div className="studio">
        <header className="top">
          <h1>flux-blocks studio</h1>
          <GraphMenu
            examples={examples}
            onOpen={open}
            onExport={exportGraph}
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
            onConnect={onConnect}
            onConnectEnd={onConnectEnd}
            isValidConnection={isValidConnection}
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

// The canvas as a graph file in the AutoGPT platform's shape (as examples/), and back.
import type { Edge, Node } from '@xyflow/react';
import type { BlockInfo, CredentialsChoice, ModelForm, NodeStatus } from '../protocol.js';
import { defaultsOf } from './form-schema.js';

/** What a canvas node holds: its block, its form's values, and what the last run showed. */
export type BlockNodeData = {
  block: BlockInfo;
  values: Record<string, unknown>;
  /** The any-model node's model form, as last loaded (not saved in the graph file). */
  modelForm?: ModelForm;
  status?: NodeStatus;
  percent?: number;
  message?: string;
  previews?: string[];
};
export type BlockNodeT = Node<BlockNodeData, 'block'>;

/** A graph file: nodes (`id`, `block_id`, `input_default`, `metadata.position`) and links. */
export interface GraphFile {
  name?: string;
  description?: string;
  nodes: Array<{
    id: string;
    block_id: string;
    input_default: Record<string, unknown>;
    metadata?: { position?: { x: number; y: number } };
  }>;
  links: Array<{ source_id: string; source_name: string; sink_id: string; sink_name: string }>;
}

/** The canvas as a graph file; node positions go in `metadata`, as the AutoGPT platform keeps them. */
export function toGraph(nodes: readonly BlockNodeT[], edges: readonly Edge[], name = 'Studio graph'): GraphFile {
  return {
    name,
    nodes: nodes.map((node) => ({
      id: node.id,
      block_id: node.data.block.id,
      input_default: node.data.values,
      metadata: { position: node.position },
    })),
    links: edges.map((edge) => ({
      source_id: edge.source,
      source_name: edge.sourceHandle ?? '',
      sink_id: edge.target,
      sink_name: edge.targetHandle ?? '',
    })),
  };
}

/** Horizontal and vertical distance between nodes laid out from a file without positions, in px. */
const COLUMN = 380;
const ROW = 260;

/**
 * A graph file on the canvas. Nodes without a position are laid out by depth, left to right.
 * A credentials reference that is missing or that the server does not know becomes the
 * server's first key (as the server fills a missing one), so an example runs as it is. @throws Error naming a node whose block is unknown.
 */
export function fromGraph(
  file: unknown,
  blocks: readonly BlockInfo[],
  keys: readonly CredentialsChoice[],
): { nodes: BlockNodeT[]; edges: Edge[] } {
  const graph = file as Partial<GraphFile>;
  if (!Array.isArray(graph.nodes)) throw new Error('Not a graph file: no nodes');
  const links = Array.isArray(graph.links) ? graph.links : [];
  const depth = new Map<string, number>();
  const depthOf = (id: string, path: Set<string> = new Set()): number => {
    if (depth.has(id)) return depth.get(id)!;
    if (path.has(id)) return 0;
    path.add(id);
    const d =
      Math.max(-1, ...links.filter((link) => link.sink_id === id).map((link) => depthOf(link.source_id, path))) + 1;
    depth.set(id, d);
    return d;
  };
  const rows = new Map<number, number>();
  const nodes = graph.nodes.map((node): BlockNodeT => {
    const block = blocks.find((b) => b.id === node.block_id || b.name === node.block_id);
    if (!block) throw new Error(`Node ${node.id}: no block ${node.block_id}`);
    const values: Record<string, unknown> = {
      ...defaultsOf(block),
      ...Object.fromEntries(Object.entries(node.input_default ?? {}).filter(([, v]) => v !== null)),
    };
    const credentials = values.credentials as { id?: string } | undefined;
    if (takesCredentials(block) && keys[0] && !keys.some((key) => key.id === credentials?.id))
      values.credentials = { ...keys[0] };
    let position = node.metadata?.position;
    if (!position) {
      const column = depthOf(node.id);
      const row = rows.get(column) ?? 0;
      rows.set(column, row + 1);
      position = { x: column * COLUMN, y: row * ROW };
    }
    return { id: node.id, type: 'block', position, data: { block, values } };
  });
  const edges = links.map((link): Edge => ({
    id: edgeId(link.source_id, link.source_name, link.sink_id, link.sink_name),
    source: link.source_id,
    sourceHandle: link.source_name,
    target: link.sink_id,
    targetHandle: link.sink_name,
  }));
  return { nodes, edges };
}

/** Whether the block has a `credentials` input. */
function takesCredentials(block: BlockInfo): boolean {
  return Object.hasOwn((block.inputSchema.properties ?? {}) as object, 'credentials');
}

/** An edge's id from its ends. */
export function edgeId(source: string, output: string, target: string, input: string): string {
  return `${source}.${output}->${target}.${input}`;
}

/** A node id not yet on the canvas: n1, n2, ... */
export function freshId(nodes: readonly BlockNodeT[]): string {
  const taken = new Set(nodes.map((node) => node.id));
  let n = nodes.length + 1;
  while (taken.has(`n${n}`)) n += 1;
  return `n${n}`;
}

/** A new node of `block` at `position`, with the block's defaults and the server's first key. */
export function newNode(
  block: BlockInfo,
  id: string,
  position: { x: number; y: number },
  keys: readonly CredentialsChoice[],
): BlockNodeT {
  const values = defaultsOf(block);
  if (takesCredentials(block) && keys[0]) values.credentials = { ...keys[0] };
  return { id, type: 'block', position, data: { block, values } };
}

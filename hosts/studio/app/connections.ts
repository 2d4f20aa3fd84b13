// Which links the canvas accepts, and why it refuses the others.
import type { Connection, Edge } from '@xyflow/react';
import type { JsonSchema } from '../protocol.js';
import { compatible, portType } from './form-schema.js';
import type { BlockNodeT } from './graph-file.js';

/**
 * Undefined when `link` may be made, else the reason in words: no link into itself, from
 * `error` or into `credentials` (a key is picked, not wired), between compatible types only,
 * one link per input, no cycle (the reference runner runs acyclic graphs).
 */
export function whyNot(
  link: Connection | Edge,
  nodes: readonly BlockNodeT[],
  edges: readonly Edge[],
): string | undefined {
  const source = nodes.find((node) => node.id === link.source);
  const target = nodes.find((node) => node.id === link.target);
  const output = link.sourceHandle;
  const input = link.targetHandle;
  if (!source || !target || !output || !input) return 'unknown node or handle';
  if (source.id === target.id) return 'a node cannot feed itself';
  if (output === 'error') return 'links from error are not supported; a failing node stops its downstream';
  if (input === 'credentials') return 'credentials are picked in the form, not linked';
  const from = portType(
    (source.data.block.outputSchema.properties as Record<string, JsonSchema> | undefined)?.[output],
  );
  const to = portType((target.data.block.inputSchema.properties as Record<string, JsonSchema> | undefined)?.[input]);
  if (!compatible(from, to)) return `${output} (${from}) cannot feed ${input} (${to})`;
  if (edges.some((edge) => edge.target === target.id && edge.targetHandle === input))
    return `${target.id}.${input} is already linked`;
  // A cycle would close if the source is reachable from the target.
  const seen = new Set<string>();
  const pending = [target.id];
  while (pending.length) {
    const id = pending.pop()!;
    if (id === source.id) return 'that link would make a cycle';
    if (seen.has(id)) continue;
    seen.add(id);
    for (const edge of edges) if (edge.source === id) pending.push(edge.target);
  }
  return undefined;
}

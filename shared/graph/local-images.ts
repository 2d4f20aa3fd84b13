import type { LocalFilesOptions } from '../framework/block.js';
import { readLocalImages } from '../framework/local-files.js';
import type { BlockRegistry } from '../framework/registry.js';
import { GraphError } from './check-graph.js';

/**
 * The graph with local image paths in its nodes' fixed inputs read into `data:` URIs, so the
 * graph check judges them as images (see `readLocalImages`). Anything not a graph is left for
 * the check to refuse.
 * @throws {GraphError} naming the node, for a path outside `files.allowDir`, a missing file or
 *   one that is no image.
 */
export async function withLocalImages(
  graph: unknown,
  registry: BlockRegistry,
  files: LocalFilesOptions,
): Promise<unknown> {
  const nodes = (graph as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) return graph;
  const read = await Promise.all(
    nodes.map(async (node: unknown) => {
      const { id, block_id: blockId, input_default: defaults } = (node ?? {}) as Record<string, unknown>;
      const block = typeof blockId === 'string' ? registry.get(blockId) : undefined;
      if (!block || defaults === undefined) return node;
      try {
        return { ...(node as object), input_default: await readLocalImages(block, defaults, files) };
      } catch (error) {
        throw new GraphError(`Node ${String(id)} (${block.name}): ${(error as Error).message}`);
      }
    }),
  );
  return { ...(graph as object), nodes: read };
}

// Adding blocks to the canvas: from the palette (a click, or a drag dropped on the canvas).
import { useCallback, type Dispatch, type DragEvent, type SetStateAction } from 'react';
import { useReactFlow, type Edge } from '@xyflow/react';
import type { BlockInfo, CredentialsChoice } from '../protocol.js';
import { freshId, newNode, type BlockNodeT } from './graph-file.js';
import { titleOf } from './form-schema.js';
import { BLOCK_MIME } from './Palette.js';

/**
 * `add` puts a block on the canvas at `position` (flow coordinates) or stacked near the top left;
 * `onDragOver` and `onDrop` take blocks dragged from the palette. `say` shows a one-line message.
 */
export function useAddBlock(
  blocks: readonly BlockInfo[],
  keys: readonly CredentialsChoice[],
  setNodes: Dispatch<SetStateAction<BlockNodeT[]>>,
  say: (message: string) => void,
) {
  const { screenToFlowPosition, getNodes } = useReactFlow<BlockNodeT, Edge>();
  const add = useCallback(
    (block: BlockInfo, position?: { x: number; y: number }) => {
      const canvas = document.querySelector('.canvas')!.getBoundingClientRect();
      const at =
        position ??
        screenToFlowPosition({ x: canvas.left + canvas.width / 3, y: canvas.top + 40 + 20 * (getNodes().length % 8) });
      const node = newNode(block, freshId(getNodes()), at, keys);
      setNodes((all) => [...all, node]);
      say(`Added ${titleOf(block)} as ${node.id}`);
    },
    [screenToFlowPosition, getNodes, setNodes, keys, say],
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
  return { add, onDragOver, onDrop };
}

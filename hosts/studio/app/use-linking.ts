// Linking pins on the canvas: refused links say why, accepted ones get the id the graph file uses.
import { useCallback, type Dispatch, type SetStateAction } from 'react';
import {
  addEdge,
  useReactFlow,
  type Connection,
  type Edge,
  type FinalConnectionState,
  type IsValidConnection,
} from '@xyflow/react';
import { whyNot } from './connections.js';
import { edgeId, type BlockNodeT } from './graph-file.js';

/** React Flow's link handlers for the canvas; `say` shows a one-line message. */
export function useLinking(setEdges: Dispatch<SetStateAction<Edge[]>>, say: (message: string) => void) {
  const { getNodes, getEdges } = useReactFlow<BlockNodeT, Edge>();

  // isValidConnection only answers yes or no (and React Flow then skips onConnect), so the reason is given in onConnectEnd.
  const isValidConnection: IsValidConnection = useCallback(
    (link) => whyNot(link, getNodes(), getEdges()) === undefined,
    [getNodes, getEdges],
  );
  const onConnect = useCallback(
    (link: Connection) => {
      const reason = whyNot(link, getNodes(), getEdges());
      if (reason) return say(`Refused: ${reason}`);
      const id = edgeId(link.source, link.sourceHandle ?? '', link.target, link.targetHandle ?? '');
      setEdges((all) => addEdge({ ...link, id }, all));
      say(`Linked ${link.source}.${link.sourceHandle} to ${link.target}.${link.targetHandle}`);
    },
    [getNodes, getEdges, setEdges, say],
  );
  const onConnectEnd = useCallback(
    (_event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      const { fromHandle: from, toHandle: to } = state;
      if (!from || !to || state.isValid) return;
      const [source, target] = from.type === 'source' ? [from, to] : [to, from];
      const link = {
        source: source.nodeId,
        sourceHandle: source.id ?? null,
        target: target.nodeId,
        targetHandle: target.id ?? null,
      };
      say(`Refused: ${whyNot(link, getNodes(), getEdges()) ?? 'an input cannot feed an input'}`);
    },
    [getNodes, getEdges, say],
  );
  return { isValidConnection, onConnect, onConnectEnd };
}

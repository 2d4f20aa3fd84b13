// Graphs as files: open an example or a file, export the canvas, start over.
import { useRef } from 'react';
import { MAX_GRAPH_BYTES, type Example } from '../protocol.js';

export function GraphMenu({
  examples,
  onOpen,
  onExport,
  onClear,
}: {
  examples: readonly Example[];
  /** Called with a function giving the graph (it throws for a file that is not JSON). */
  onOpen: (read: () => unknown, name: string) => void;
  onExport: () => void;
  onClear: () => void;
}) {
  const file = useRef<HTMLInputElement>(null);
  return (
    <nav className="graph-menu" aria-label="Graph">
      <select
        aria-label="Open an example"
        data-testid="examples"
        value=""
        onChange={(e) => {
          const example = examples.find((x) => x.file === e.target.value);
          if (example) onOpen(() => example.graph, example.file);
        }}
      >
        <option value="">Examples...</option>
        {examples.map((example) => (
          <option key={example.file} value={example.file}>
            {example.graph.name ?? example.file}
          </option>
        ))}
      </select>
      <button type="button" onClick={() => file.current?.click()}>
        Open...
      </button>
      <input
        ref={file}
        type="file"
        accept="application/json,.json"
        hidden
        data-testid="open-file"
        onChange={async (e) => {
          const chosen = e.target.files?.[0];
          e.target.value = '';
          if (!chosen) return;
          // Refused before it is read: the server would refuse it anyway (413), and the page would hold it all.
          if (chosen.size > MAX_GRAPH_BYTES) {
            onOpen(() => {
              throw new Error(`it is ${chosen.size} bytes, over the ${MAX_GRAPH_BYTES}-byte (4 MiB) limit of a graph`);
            }, chosen.name);
            return;
          }
          const text = await chosen.text();
          onOpen(() => JSON.parse(text) as unknown, chosen.name);
        }}
      />
      <button type="button" onClick={onExport} data-testid="export">
        Export
      </button>
      <button type="button" onClick={onClear}>
        New
      </button>
    </nav>
  );
}

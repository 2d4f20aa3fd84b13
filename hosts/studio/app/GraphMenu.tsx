// Graphs as files: open an example or a file, export the canvas, start over.
import { useRef } from 'react';
import type { Example } from '../protocol.js';

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

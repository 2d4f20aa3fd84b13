// Every registered block, by category, with a search box: drag one onto the canvas, or Enter to add it.
import { useState } from 'react';
import type { BlockInfo } from '../protocol.js';
import { titleOf } from './form-schema.js';

/** The drag data type carrying a block id from the palette to the canvas. */
export const BLOCK_MIME = 'application/x-flux-blocks-block';

export function Palette({ blocks, onAdd }: { blocks: readonly BlockInfo[]; onAdd: (block: BlockInfo) => void }) {
  const [query, setQuery] = useState('');
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = blocks.filter((block) =>
    words.every((word) => `${block.name} ${titleOf(block)} ${block.description}`.toLowerCase().includes(word)),
  );
  // Each block under its first category, so it appears (and has its test id) once.
  const groups = new Map<string, BlockInfo[]>();
  for (const block of shown) {
    const category = block.categories[0]?.category ?? 'OTHER';
    groups.set(category, [...(groups.get(category) ?? []), block]);
  }
  return (
    <aside className="palette" aria-label="Blocks">
      <input
        type="search"
        placeholder="Search blocks"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        aria-label="Search blocks"
        data-testid="palette-search"
      />
      {[...groups]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([category, members]) => (
          <section key={category}>
            <h3>{category}</h3>
            {members.map((block) => (
              <div
                key={block.id}
                className="palette-item"
                data-testid={`palette-${block.name}`}
                role="button"
                tabIndex={0}
                draggable
                title={block.description}
                onDragStart={(e) => {
                  e.dataTransfer.setData(BLOCK_MIME, block.id);
                  e.dataTransfer.effectAllowed = 'move';
                }}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') onAdd(block);
                }}
              >
                {titleOf(block)}
              </div>
            ))}
          </section>
        ))}
      {shown.length === 0 && <p className="empty">No block matches.</p>}
    </aside>
  );
}

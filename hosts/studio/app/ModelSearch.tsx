// The any-model node's search: words in, Replicate's models out (name, description, runs), one picked.
import { useState, type FormEvent } from 'react';
import { MAX_MODEL_QUERY_CHARS, type ModelHit } from '../protocol.js';
import { searchModels } from './api.js';

/** Longest description shown in a hit, in characters. */
const DESCRIPTION_CHARS = 120;

/**
 * A search box (at most {@link MAX_MODEL_QUERY_CHARS} characters) and the models found, each a
 * button: picking one calls `onPick` with its `owner/name` and closes the list.
 */
export function ModelSearch({ nodeId, onPick }: { nodeId: string; onPick: (model: string) => void }) {
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState<readonly ModelHit[]>();
  const [note, setNote] = useState<string>();

  async function search(event: FormEvent) {
    event.preventDefault();
    const words = query.trim();
    if (!words) return setNote('Type words to search for, e.g. flux');
    setNote(`Searching for ${words}...`);
    setHits(undefined);
    const answer = await searchModels(words).catch((error: Error) => ({ error: error.message }));
    if ('error' in answer) return setNote(answer.error);
    setHits(answer.hits);
    setNote(answer.hits.length ? undefined : `No models found for ${words}`);
  }

  return (
    // nodrag nowheel: typing and scrolling the list must not drag the node or pan the canvas.
    <div className="model-search nodrag nowheel">
      <form role="search" onSubmit={(event) => void search(event)}>
        <input
          type="search"
          value={query}
          maxLength={MAX_MODEL_QUERY_CHARS}
          placeholder="Search Replicate models, e.g. flux"
          aria-label="Search Replicate models"
          data-testid={`model-query-${nodeId}`}
          onChange={(e) => setQuery(e.target.value)}
        />
        <button type="submit" data-testid={`model-search-${nodeId}`}>
          Search
        </button>
      </form>
      {note && (
        <p className="model-note" data-testid={`model-search-note-${nodeId}`}>
          {note}
        </p>
      )}
      {hits && hits.length > 0 && (
        <ul className="model-hits" data-testid={`model-hits-${nodeId}`}>
          {hits.map((hit) => (
            <li key={hit.model}>
              <button
                type="button"
                data-testid="model-hit"
                title={hit.description}
                onClick={() => {
                  setHits(undefined);
                  onPick(hit.model);
                }}
              >
                <b className="hit-model">{hit.model}</b>
                {hit.runCount !== undefined && (
                  <span className="hit-runs">{hit.runCount.toLocaleString('en-US')} runs</span>
                )}
                {hit.description && <span className="hit-description">{short(hit.description)}</span>}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** One line of at most {@link DESCRIPTION_CHARS} characters. */
function short(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > DESCRIPTION_CHARS ? `${line.slice(0, DESCRIPTION_CHARS - 1)}…` : line;
}

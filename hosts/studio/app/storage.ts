// The current graph in localStorage, so a page reload finds it.
import type { GraphFile } from './graph-file.js';

const STORAGE_KEY = 'flux-blocks-studio-graph';

/** Keeps the graph in localStorage, so a reload finds it. */
export function remember(graph: GraphFile): void {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(graph));
}

/** The graph kept by {@link remember}, if any (not if what is kept is not JSON). */
export function recall(): unknown {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') ?? undefined;
  } catch {
    return undefined;
  }
}

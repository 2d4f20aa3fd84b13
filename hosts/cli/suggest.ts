// "Did you mean …?" for a mistyped block name: partial, lowercase and misspelled names.

/** Edit distance (insertions, deletions, substitutions) between two short strings. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** Lowercase letters and digits only: `flux-kontext` and `FluxKontext` read alike. */
const plain = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The names closest to `typed`, best first, at most `max` (default 3): names that contain it (3
 * characters or more), then names within a few edits of it, whole or without their common
 * `ReplicateFlux` prefix and `Block` suffix. Empty when nothing is close; input is bounded to 200
 * characters, as the distance costs length × length.
 */
export function closestNames(typed: string, names: readonly string[], max = 3): string[] {
  const query = plain(typed.slice(0, 200));
  if (!query) return [];
  const scored = names.map((name) => {
    const whole = plain(name);
    const core = whole.replace(/^replicate(flux)?/, '').replace(/block$/, '');
    if (query.length >= 3 && (whole.includes(query) || (core.length >= 3 && query.includes(core))))
      return { name, score: 0 };
    return { name, score: Math.min(distance(query, whole), distance(query, core)) };
  });
  const limit = Math.max(2, Math.floor(query.length / 3));
  return scored
    .filter(({ score }) => score <= limit)
    .sort((a, b) => a.score - b.score)
    .slice(0, max)
    .map(({ name }) => name);
}

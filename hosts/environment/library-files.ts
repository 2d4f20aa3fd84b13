// Where the library package's files are (examples, docs, package.json), found the way Node finds the
// package, so the hosts work from the repository, from tarballs and from a global install alike.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The library package's directory (`replicate-flux-blocks`), absolute. */
export const LIBRARY_ROOT = dirname(createRequire(import.meta.url).resolve('replicate-flux-blocks/package.json'));

/** An absolute path inside the library package, e.g. `libraryFile('examples')`. */
export function libraryFile(...parts: string[]): string {
  return join(LIBRARY_ROOT, ...parts);
}

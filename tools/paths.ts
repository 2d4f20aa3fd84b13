// Where the tools find the repository and the built command: through the workspace links in
// node_modules, so the answer is the same from tools/ and from tools/dist/.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The repository root: the library package's directory. */
export const REPO_ROOT = dirname(require.resolve('replicate-flux-blocks/package.json'));

/** The built `flux-blocks` command of the hosts package (`npm run build` writes it). */
export const CLI_BIN = join(
  dirname(require.resolve('replicate-flux-blocks-cli/package.json')),
  'dist',
  'cli',
  'flux-blocks.js',
);

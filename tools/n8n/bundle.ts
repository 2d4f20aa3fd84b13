import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT } from '../paths.js';

// n8n's linter refuses runtime dependencies in a community node package (they would be installed
// into n8n's own node_modules), so the library's parts the node uses are bundled into
// integrations/n8n/dist/lib/flux-blocks.mjs, an ES module the CommonJS node loads with import().
const outfile = join(REPO_ROOT, 'integrations', 'n8n', 'dist', 'lib', 'flux-blocks.mjs');
await build({
  stdin: {
    contents: [
      "export { registry, runBlock } from 'replicate-flux-blocks';",
      "export { fetchImage } from 'replicate-flux-blocks/shared/image/fetch-image.js';",
    ].join('\n'),
    resolveDir: REPO_ROOT,
    loader: 'js',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile,
  legalComments: 'inline',
  // Bundled CommonJS dependencies (ajv) call require() for Node's modules; ESM has none of its own.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
console.log(`wrote ${outfile}`);

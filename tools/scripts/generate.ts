import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRegistry } from 'replicate-flux-blocks/blocks/index.js';
import { artifacts } from './artifacts.js';
import { nodeRedArtifacts } from './node-red.js';
import { REPO_ROOT } from '../paths.js';

// Writes the generated files: `node tools/dist/tools/scripts/generate.js schemas|docs|node-red|n8n|all`.
const kind = process.argv[2] ?? 'all';
if (kind !== 'schemas' && kind !== 'docs' && kind !== 'node-red' && kind !== 'n8n' && kind !== 'all') {
  console.error('usage: generate.js schemas|docs|node-red|n8n|all');
  process.exit(2);
}
const root = REPO_ROOT;
const registry = createRegistry();
const files = new Map([
  ...(kind === 'node-red' ? [] : artifacts(registry, kind)),
  // The Node-RED nodes are made from the schemas, so `npm run schemas` (which block changes run) writes them too.
  ...(kind === 'docs' || kind === 'n8n' ? [] : nodeRedArtifacts(registry)),
]);
for (const [path, content] of files) {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
  console.log(`wrote ${path}`);
}

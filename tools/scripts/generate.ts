import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRegistry } from 'replicate-flux-blocks/blocks/index.js';
import { artifacts } from './artifacts.js';
import { REPO_ROOT } from '../paths.js';

// Writes the generated schemas, docs and n8n node properties: `node tools/dist/tools/scripts/generate.js schemas|docs|n8n|all`.
const kind = process.argv[2] ?? 'all';
if (kind !== 'schemas' && kind !== 'docs' && kind !== 'n8n' && kind !== 'all') {
  console.error('usage: generate.js schemas|docs|n8n|all');
  process.exit(2);
}
const root = REPO_ROOT;
for (const [path, content] of artifacts(createRegistry(), kind)) {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
  console.log(`wrote ${path}`);
}

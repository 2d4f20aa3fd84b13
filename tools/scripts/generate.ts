import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '../blocks/index.js';
import { artifacts } from './artifacts.js';

// Writes the generated schemas and docs: `node dist/scripts/generate.js schemas|docs|all`.
const kind = process.argv[2] ?? 'all';
if (kind !== 'schemas' && kind !== 'docs' && kind !== 'all') {
  console.error('usage: generate.js schemas|docs|all');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
for (const [path, content] of artifacts(createRegistry(), kind)) {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
  console.log(`wrote ${path}`);
}

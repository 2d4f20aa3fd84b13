import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../paths.js';
import { installOnce, run } from './cache.js';

// `npm run lint:n8n`: n8n's own linter (`n8n-node lint` of @n8n/node-cli) on integrations/n8n.
// @n8n/node-cli lives in the cache, not in devDependencies: its eslint-plugin-n8n-nodes-base runs
// `npx only-allow pnpm` on install, which stops a plain `npm ci`, so the cache installs it with
// --ignore-scripts. `n8n-node lint` runs `npm exec eslint`, which in the repo would find the repo's
// ESLint 8; so it lints a copy of the package placed inside the cache folder, where ESLint 9 and
// @n8n/node-cli/eslint resolve, with the package's two dependencies linked back to the repo.
const VERSION = '0.48.3';
const SOURCE = join(REPO_ROOT, 'integrations', 'n8n');
const COPIED = ['package.json', 'eslint.config.mjs', 'README.md', 'LICENSE', 'index.js', 'nodes', 'credentials'];

try {
  const dir = await installOnce(
    `n8n-node-cli-${VERSION}`,
    { '@n8n/node-cli': VERSION },
    { npmArgs: ['--ignore-scripts'] },
  );
  const copy = join(dir, 'package');
  await rm(copy, { recursive: true, force: true });
  for (const name of COPIED) await cp(join(SOURCE, name), join(copy, name), { recursive: true });
  // The repo's tsconfig.build.json extends the root's; the copy gets the same options standalone.
  const compilerOptions = {
    module: 'Node16',
    moduleResolution: 'Node16',
    target: 'ES2022',
    strict: true,
    resolveJsonModule: true,
    esModuleInterop: true,
    skipLibCheck: true,
  };
  await writeFile(
    join(copy, 'tsconfig.json'),
    JSON.stringify({ compilerOptions, include: ['nodes', 'credentials'] }, null, 2),
  );
  await mkdir(join(copy, 'node_modules'));
  await symlink(REPO_ROOT, join(copy, 'node_modules', 'replicate-flux-blocks'));
  await symlink(join(REPO_ROOT, 'node_modules', 'n8n-workflow'), join(copy, 'node_modules', 'n8n-workflow'));
  console.log(`$ (cd ${copy} && n8n-node lint)   # a copy of integrations/n8n: paths below are in it`);
  process.exitCode = await run(join(dir, 'node_modules', '.bin', 'n8n-node'), ['lint'], { cwd: copy });
} catch (error) {
  console.error(`lint:n8n: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}

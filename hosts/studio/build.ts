// Bundles the studio's page (hosts/studio/app) into hosts/dist/studio/public with esbuild;
// `npm run build` runs it after tsc.
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

// Run from hosts/dist/studio/build.js: the hosts package's root (hosts/) is two folders up.
const root = ((above) => (basename(above) === 'dist' ? dirname(above) : above))(
  resolve(dirname(fileURLToPath(import.meta.url)), '..'),
);
const app = join(root, 'studio', 'app');
const out = join(root, 'dist', 'studio', 'public');

await mkdir(out, { recursive: true });
// main.tsx imports its CSS, so esbuild writes main.css beside main.js; index.html links both.
await esbuild.build({
  entryPoints: [join(app, 'main.tsx')],
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  jsx: 'automatic',
  minify: true,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
await copyFile(join(app, 'index.html'), join(out, 'index.html'));

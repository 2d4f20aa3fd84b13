import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../paths.js';

// Mutation testing, layer by layer: `node tools/dist/tools/scripts/mutation.js [layer...] [stryker flags]`
// (npm run test:mutation). Each layer is one Stryker run (stryker.config.mjs) with its own
// incremental file, docs/mutation/<layer>.json, checked in: a run after a change re-tests
// only the mutants whose code or covering tests changed. Ends with each layer's score.
const root = REPO_ROOT;
const config = join(root, 'stryker.config.mjs');
const { LAYERS } = (await import(pathToFileURL(config).href)) as { LAYERS: Record<string, string[]> };
const args = process.argv.slice(2);
const asked = args.filter((arg) => Object.hasOwn(LAYERS, arg));
const strykerFlags = args.filter((arg) => !Object.hasOwn(LAYERS, arg));
const unknown = strykerFlags.find(
  (arg) => !arg.startsWith('-') && !strykerFlags[strykerFlags.indexOf(arg) - 1]?.startsWith('--'),
);
if (unknown) {
  console.error(`mutation: no layer ${unknown}; the layers are ${Object.keys(LAYERS).join(', ')}`);
  process.exit(2);
}

let failed = false;
for (const layer of asked.length ? asked : Object.keys(LAYERS)) {
  const started = Date.now();
  const run = spawnSync(join(root, 'node_modules', '.bin', 'stryker'), ['run', config, ...strykerFlags], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, MUTATION_LAYER: layer },
  });
  console.log(`mutation: ${layer} took ${Math.round((Date.now() - started) / 1000)} s`);
  failed ||= run.status !== 0;
}

// Scores from every layer's incremental file, as Stryker counts them: detected (killed, timeout)
// over valid mutants (detected, survived, no coverage); ignored and static mutants left out.
const width = Math.max(...Object.keys(LAYERS).map((layer) => layer.length));
console.log(`\n${'layer'.padEnd(width)} killed  survived  no coverage  timeout  score`);
for (const layer of Object.keys(LAYERS)) {
  const report = await readFile(join(root, 'docs', 'mutation', `${layer}.json`), 'utf8').then(
    (text) => JSON.parse(text) as Report,
    () => undefined,
  );
  if (!report) continue;
  const count: Record<string, number> = {};
  for (const file of Object.values(report.files))
    for (const { status } of file.mutants) count[status] = (count[status] ?? 0) + 1;
  const [killed = 0, survived = 0, noCoverage = 0, timeout = 0] = ['Killed', 'Survived', 'NoCoverage', 'Timeout'].map(
    (status) => count[status],
  );
  const score = (100 * (killed + timeout)) / (killed + timeout + survived + noCoverage);
  console.log(
    `${layer.padEnd(width)} ${String(killed).padStart(6)}  ${String(survived).padStart(8)}  ${String(noCoverage).padStart(11)}  ${String(timeout).padStart(7)}  ${score.toFixed(1)}%`,
  );
}
process.exit(failed ? 1 : 0);

/** The part of Stryker's mutation-testing report (mutation-testing-report-schema) read here. */
interface Report {
  readonly files: Record<string, { readonly mutants: ReadonlyArray<{ readonly status: string }> }>;
}

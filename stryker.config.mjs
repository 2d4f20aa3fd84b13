// @ts-check
// StrykerJS mutation testing of the layers where a silent bug costs money or safety (issue 19).
// Run it with `npm run test:mutation [layer...]` (scripts/mutation.ts), which runs Stryker once
// per layer with MUTATION_LAYER set; docs/testing.md explains the results.

/** Files mutated per layer. types.ts and pacer.ts hold declarations and schemas only. */
export const LAYERS = {
  replicate: ['replicate/**/*.ts', '!replicate/types.ts', '!replicate/pacer.ts'],
  image: ['image/**/*.ts'],
  graph: ['graph/**/*.ts'],
  'run-block': ['framework/run-block.ts'],
};

const layer = process.env.MUTATION_LAYER ?? 'replicate';
if (!Object.hasOwn(LAYERS, layer)) throw new Error(`MUTATION_LAYER: no layer ${layer}; the layers are ${Object.keys(LAYERS).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules'],
  coverageAnalysis: 'perTest',
  mutate: LAYERS[/** @type {keyof typeof LAYERS} */ (layer)],
  jest: {
    configFile: 'jest.config.ts',
    // Only tests that run the mutated layers in this process: tests of child processes (dist/),
    // the studio's browser or Redis workers cannot see a mutant.
    config: {
      // The whole project is a root, so jest's --findRelatedTests follows imports from the
      // tests through index.ts to the mutated file.
      roots: ['<rootDir>'],
      testMatch: ['replicate', 'image', 'graph', 'framework', 'blocks', 'flux', 'openai'].map((dir) => `<rootDir>/tests/${dir}/**/*.test.ts`),
      // The CLI test runs dist/, which holds no mutant.
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/tests/openai/cli\\.test\\.ts$'],
      modulePathIgnorePatterns: ['<rootDir>/dist/'],
      // Skips a mutant's remaining tests after the first failure. Relative to the sandbox:
      // Stryker resolves the environment itself, without jest's <rootDir>.
      testEnvironment: './tests/mutation/bail-environment.cjs',
      // Runs only the test files that hold a test covering the mutant.
      testSequencer: '<rootDir>/tests/mutation/covering-sequencer.cjs',
    },
  },
  // Checked in: a later run re-tests only mutants whose code or covering tests changed.
  incremental: true,
  incrementalFile: `reports/mutation/${layer}.json`,
  // A static mutant (run at module load: constants, schemas) needs every test run again in a fresh environment.
  ignoreStatic: true,
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: `reports/mutation/${layer}.html` },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  // Tests wait on real timers (retries, polls); a busy 2-core machine needs slack before a slow mutant counts as a timeout.
  timeoutMS: 10_000,
  ignorePatterns: ['/out', '/coverage', '/artifacts'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};

// @ts-check
// StrykerJS mutation testing of the layers where a silent bug costs money or safety (issue 19).
// Run it with `npm run test:mutation [layer...]` (tools/scripts/mutation.ts), which runs Stryker once
// per layer with MUTATION_LAYER set; docs/testing.md explains the results.

/**
 * Files mutated per layer. Layers are split so each Stryker run ends (and writes its incremental
 * file, which Stryker writes only at the end) within about an hour on one core. types.ts and pacer.ts hold
 * declarations and schemas only.
 */
export const LAYERS = {
  // Retry policy, rate gate, error mapping: every request.
  'replicate-requests': [
    'shared/replicate/http.ts',
    'shared/replicate/rate-gate.ts',
    'shared/replicate/api-errors.ts',
    'shared/replicate/transport.ts',
  ],
  // A run's life, in runs of about an hour or less on one core (nearly every library test covers
  // a run, so a surviving mutant costs minutes): create and sync wait; webhooks, polls, cancel and
  // finding a lost create; the client's options and token; its calls (models, trainings,
  // deployments, files); uploads and input checks. A range (file:from-to) splits a file by lines.
  'replicate-runs-create': ['shared/replicate/prediction-run.ts:1-178', 'shared/replicate/resolve-model.ts'],
  'replicate-runs-wait': ['shared/replicate/prediction-run.ts:179-345', 'shared/replicate/find-predictions.ts'],
  'replicate-client-setup': ['shared/replicate/client.ts:1-323'],
  'replicate-client-calls': ['shared/replicate/client.ts:324-465'],
  'replicate-files': ['shared/replicate/files.ts', 'shared/replicate/input-check.ts', 'shared/replicate/bad-ports.ts'],
  'replicate-webhooks': ['shared/replicate/webhooks.ts', 'shared/replicate/webhook-signature.ts'],
  image: ['shared/image/**/*.ts'],
  graph: ['shared/graph/**/*.ts'],
  'run-block': ['shared/framework/run-block.ts'],
  // The MCP server's tool results: image items within the byte limit, structuredContent.
  'mcp-results': ['hosts/mcp/results.ts'],
  // The OpenAI-compatible client (types.ts holds declarations only).
  'openai-client': [
    'shared/openai/api-errors.ts',
    'shared/openai/chat-images.ts',
    'shared/openai/client.ts',
    'shared/openai/http.ts',
    'shared/openai/read-answer.ts',
  ],
  // Redis workers, in three runs of about an hour or less: a job's run (billed once, resumed after
  // a crash), the queue and worker (stalled jobs, crash-resume), the shared rate limit.
  'workers-jobs': ['hosts/workers/process-job.ts'],
  'workers-queue': ['hosts/workers/queue.ts', 'hosts/workers/worker.ts'],
  'workers-rate-limit': ['hosts/workers/rate-limit.ts'],
};

/** The library's in-process test folders: every layer under shared/ is tested through them. */
const LIBRARY_TESTS = ['replicate', 'image', 'graph', 'framework', 'blocks', 'flux', 'openai'].map(
  (dir) => `<rootDir>/tests/${dir}/**/*.test.ts`,
);
/**
 * Test files per layer, when not {@link LIBRARY_TESTS}: only tests that run the layer in this
 * process see its mutants. The MCP tests over stdio and the workers spawned from hosts/dist/ run
 * code without mutants, so per-test coverage leaves them out of each mutant's run anyway; these
 * lists keep the initial test run short.
 */
const LAYER_TESTS = {
  // Only runs given a webhook receiver: the two webhook files and the client's options test.
  'replicate-webhooks': [
    '<rootDir>/tests/replicate/webhooks-*.test.ts',
    '<rootDir>/tests/framework/replicate-client.test.ts',
  ],
  // results.test.ts calls results.ts directly; mcp-server and mcp-http reach it through in-process HTTP servers.
  'mcp-results': ['results', 'mcp-server', 'mcp-http'].map((name) => `<rootDir>/tests/mcp/${name}.test.ts`),
  // embedded-emulator and queue run startWorker and the queue in this process; process-job runs
  // one job's run here (processJob, against Redis and the emulator); resilience creates its queue
  // here (its workers are child processes); settings reads the worker's and rate limit's settings;
  // shared-budget runs the shared rate limit against Redis here.
  ...Object.fromEntries(
    ['workers-jobs', 'workers-queue', 'workers-rate-limit'].map((name) => [
      name,
      ['embedded-emulator', 'process-job', 'queue', 'resilience', 'settings', 'shared-budget', 'worker-failures'].map(
        (file) => `<rootDir>/tests/workers/${file}.test.ts`,
      ),
    ]),
  ),
};

const layer = process.env.MUTATION_LAYER ?? 'replicate-requests';
if (!Object.hasOwn(LAYERS, layer))
  throw new Error(`MUTATION_LAYER: no layer ${layer}; the layers are ${Object.keys(LAYERS).join(', ')}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  // jest's ESM module registries are not all freed between runs: a worker grew to 3.5 GB within
  // a hundred mutants and spent its time collecting garbage. Room to grow, and a fresh worker
  // every 15 mutants; every 4 for the library layers, whose mutants each load most test files (a
  // run's life: 5.2 GB and 15 mutants in 20 minutes).
  testRunnerNodeArgs: ['--experimental-vm-modules', '--max-old-space-size=6144'],
  maxTestRunnerReuse: Object.hasOwn(LAYER_TESTS, layer) ? 15 : 4,
  coverageAnalysis: 'perTest',
  mutate: LAYERS[/** @type {keyof typeof LAYERS} */ (layer)],
  jest: {
    configFile: 'jest.config.ts',
    // Only tests that run the mutated layers in this process: tests of child processes (dist/),
    // the studio's browser or Redis workers cannot see a mutant.
    config: {
      testMatch: /** @type {Record<string, string[]>} */ (LAYER_TESTS)[layer] ?? LIBRARY_TESTS,
      // The CLI test runs dist/, which holds no mutant.
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/tests/openai/cli\\.test\\.ts$'],
      // Skips a mutant's remaining tests after the first failure. Relative to the sandbox:
      // Stryker resolves the environment itself, without jest's <rootDir>.
      testEnvironment: './tests/mutation/bail-environment.cjs',
      // Runs only the test files that hold a test covering the mutant, quickest first.
      testSequencer: '<rootDir>/tests/mutation/covering-sequencer.cjs',
    },
    // The sequencer picks the files; jest's own search through imports costs more per mutant.
    enableFindRelatedTests: false,
  },
  // Checked in: a later run re-tests only mutants whose code or covering tests changed.
  incremental: true,
  incrementalFile: `docs/mutation/${layer}.json`,
  // A static mutant (run at module load: constants, schemas) needs every test run again in a fresh environment.
  ignoreStatic: true,
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: `docs/mutation/${layer}.html` },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: true, reportScoreTable: true },
  // Tests wait on real timers (retries, polls); a busy 2-core machine needs slack before a slow mutant counts as a timeout.
  timeoutMS: 10_000,
  // The initial run (every test once, with coverage) took over Stryker's default 5 minutes with
  // seven engineers' builds and tests on the same 2 cores.
  dryRunTimeoutMinutes: 20,
  ignorePatterns: ['/out', '/coverage', '/artifacts'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};

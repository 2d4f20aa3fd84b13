// Jest's test sequencer for Stryker's mutant runs (stryker.config.mjs). Stryker picks the tests
// that cover a mutant by name (testNamePattern), but jest still loads every test file and starts
// its emulator to find out which tests match. This keeps only the files that hold a covering test,
// as recorded by bail-environment.cjs in the initial run (without a record, all files run), and
// runs files that failed before first, then the quickest: the first failure kills the mutant.
const { readFileSync } = require('node:fs');
const Sequencer = require('@jest/test-sequencer').default;
const { TEST_FILES } = require('./test-files.cjs');

class CoveringSequencer extends Sequencer {
  constructor(options) {
    super(options);
    this.pattern = options.globalConfig.testNamePattern;
  }

  sort(tests) {
    if (process.env.__STRYKER_ACTIVE_MUTANT__ === undefined) return super.sort(tests);
    const duration = (test) => this.time(test) ?? Number.POSITIVE_INFINITY;
    const sorted = [...tests].sort((a, b) => this.hasFailed(b) - this.hasFailed(a) || duration(a) - duration(b));
    let testFiles;
    try {
      testFiles = JSON.parse(readFileSync(TEST_FILES, 'utf8'));
    } catch {
      return sorted;
    }
    if (!this.pattern) return sorted;
    // As jest-circus matches test names.
    const pattern = new RegExp(this.pattern, 'i');
    const wanted = new Set(
      Object.entries(testFiles)
        .filter(([name]) => pattern.test(name))
        .flatMap(([, files]) => files),
    );
    const kept = sorted.filter((test) => wanted.has(test.path));
    return kept.length ? kept : sorted;
  }
}

module.exports = CoveringSequencer;

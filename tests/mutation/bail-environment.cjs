// The tests' environment (../node-environment.cjs) for Stryker's runs (stryker.config.mjs). CommonJS: Stryker's jest
// runner loads the environment with require.
// - Initial run (no active mutant): records which file holds each test, for covering-sequencer.cjs.
// - Mutant runs: once a test fails the mutant is killed, so the run's remaining tests are skipped.
//   Jest's own `bail` stops only between files, and Stryker cannot set it. Hot code (every request
//   passes the rate gate) is covered by hundreds of tests, which would all run for each mutant.
const { writeFileSync } = require('node:fs');
const NodeEnvironment = require('../node-environment.cjs');
const { TEST_FILES } = require('./test-files.cjs');

/** The mutant a test failed for; module state, so it outlives the test file that failed. */
let killed;
/** Full test name (as jest's testNamePattern sees it) -> the files holding a test of that name. */
const testFiles = {};

/** A test's name with its describe blocks', space-separated, as jest matches testNamePattern. */
function fullName(test) {
  const names = [];
  for (let block = test; block?.parent; block = block.parent) names.unshift(block.name);
  return names.join(' ');
}

class BailEnvironment extends NodeEnvironment {
  constructor(config, context) {
    super(config, context);
    this.testPath = context.testPath;
  }

  async handleTestEvent(event) {
    const mutant = process.env.__STRYKER_ACTIVE_MUTANT__;
    if (mutant === undefined) {
      if (event.name === 'test_start') (testFiles[fullName(event.test)] ??= []).push(this.testPath);
      return;
    }
    if (event.name === 'test_start' && killed === mutant) event.test.mode = 'skip';
    if (event.name === 'test_done' && event.test.errors.length > 0) killed = mutant;
  }

  async teardown() {
    if (process.env.__STRYKER_ACTIVE_MUTANT__ === undefined) writeFileSync(TEST_FILES, JSON.stringify(testFiles));
    await super.teardown();
  }
}

module.exports = BailEnvironment;

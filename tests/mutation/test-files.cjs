const { join } = require('node:path');

/** Where Stryker's initial run records each test's file: in the sandbox Stryker runs jest in. */
exports.TEST_FILES = join(process.cwd(), '.stryker-test-files.json');

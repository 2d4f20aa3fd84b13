import type { Config } from 'jest';

// Slow machines raise every deadline of the suite with TEST_TIME_SCALE (tests/helpers.ts reads it too).
const scale = Number(process.env.TEST_TIME_SCALE) > 0 ? Number(process.env.TEST_TIME_SCALE) : 1;

// ky and p-timeout are ESM-only, so tests run as native ESM through ts-jest.
const config: Config = {
  preset: 'ts-jest/presets/default-esm',
  // jest's node environment with undici's global dispatcher, which the transport sends through.
  testEnvironment: '<rootDir>/tests/node-environment.cjs',
  // redis-server and Chromium, installed before any test when missing (never inside a test's timeout).
  globalSetup: '<rootDir>/tests/global-setup.ts',
  roots: ['<rootDir>/tests'],
  // Tests run the sources: the workspace packages' names (how hosts, the emulator and tools import
  // the library) lead to the same source files that relative imports reach, so each module loads once.
  moduleNameMapper: {
    '^replicate-flux-blocks$': '<rootDir>/index.ts',
    '^replicate-flux-blocks/sdk$': '<rootDir>/sdk.ts',
    '^replicate-flux-blocks/((?:blocks|shared)/.*)\\.js$': '<rootDir>/$1.ts',
    '^replicate-flux-emulator$': '<rootDir>/emulator/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  // One deadline per test; tests wait for states within it, never for a fixed time.
  testTimeout: 60_000 * scale,
  // Most files wait on sockets and timers: two at once roughly halve the suite's time on 2 cores.
  maxWorkers: 2,
};

export default config;

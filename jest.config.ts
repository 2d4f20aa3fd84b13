import type { Config } from 'jest';

// ky and p-timeout are ESM-only, so tests run as native ESM through ts-jest.
const config: Config = {
  preset: 'ts-jest/presets/default-esm',
  // jest's node environment with undici's global dispatcher, which the transport sends through.
  testEnvironment: '<rootDir>/tests/node-environment.cjs',
  roots: ['<rootDir>/tests'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  testTimeout: 20_000,
};

export default config;

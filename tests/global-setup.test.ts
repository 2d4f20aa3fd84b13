import { expect, test } from '@jest/globals';
import { CHROMIUM, ensureServices, installCommand, SERVICES, type SystemService } from './global-setup.js';

// The suite's global setup: services are used where they are, and never silently skipped where they are not.
const service = (aptPackage: string, present: boolean): SystemService => ({
  usedBy: `the ${aptPackage} tests`,
  aptPackage,
  present: () => present,
});

test('present services are used as they are, installing nothing', () => {
  expect(() => ensureServices([service('a', true), service('b', true)], false)).not.toThrow();
});

test('without root, missing services fail at once with the exact command to run, naming what needs them', () => {
  expect(() =>
    ensureServices([service('redis-server', false), service('present', true), service('chromium', false)], false),
  ).toThrow(
    "The test suite needs redis-server (the redis-server tests) and chromium (the chromium tests), which are not installed. Install as root: sudo sh -c 'apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y redis-server chromium'",
  );
});

test("the suite needs redis-server and Debian's Chromium, and both are there once the setup ran", () => {
  expect(SERVICES.map((s) => s.aptPackage)).toEqual(['redis-server', 'chromium']);
  expect(CHROMIUM).toBe('/usr/bin/chromium');
  expect(installCommand(['x'])).toBe('apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y x');
  for (const s of SERVICES) expect([s.aptPackage, s.present()]).toEqual([s.aptPackage, true]);
});

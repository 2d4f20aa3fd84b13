import { expect, test } from '@jest/globals';
import { CHROMIUM, ensureChromium } from './browser.js';

// The browser tests' setup: Chromium is used where it is, and never silently skipped where it is not.
test('a present Chromium is used as it is', () => {
  expect(ensureChromium(process.execPath, false)).toBe(process.execPath);
});

test('without root, a missing Chromium fails with the exact command to run', () => {
  expect(() => ensureChromium('/nonexistent/chromium', false)).toThrow(
    'The studio\'s browser tests need Chromium at /nonexistent/chromium. Install it as root: apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y chromium',
  );
  expect(CHROMIUM).toBe('/usr/bin/chromium');
});

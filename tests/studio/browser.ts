import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from '@jest/globals';
import type { Page } from 'playwright-core';
import { ROOT } from '../helpers.js';

/** Debian's Chromium, which playwright-core drives (Playwright's own browser download is out of reach). */
export const CHROMIUM = '/usr/bin/chromium';

/** Where browser tests leave their screenshots (git-ignored). */
export const ARTIFACTS = join(ROOT, 'artifacts', 'studio');

const INSTALL = 'apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y chromium';

/**
 * Makes sure Chromium exists at `executable` (default {@link CHROMIUM}): when missing and running as root, installs Debian's
 * chromium package with apt-get, saying so; otherwise fails with the command to run.
 */
export function ensureChromium(executable = CHROMIUM, root = process.getuid?.() === 0): string {
  if (existsSync(executable)) return executable;
  if (!root) throw new Error(`The studio's browser tests need Chromium at ${executable}. Install it as root: ${INSTALL}`);
  console.log(`Chromium is missing at ${executable}; installing Debian's chromium package: ${INSTALL}`);
  const options = { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } } as const;
  execFileSync('apt-get', ['update'], options);
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', 'chromium'], options);
  if (!existsSync(executable)) throw new Error(`apt-get installed chromium but ${executable} is still missing; run: ${INSTALL}`);
  return executable;
}

/** Saves a screenshot of `page` as artifacts/studio/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path });
  return path;
}

/** Drags from the centre of one element's box to the centre of another's with the mouse, as a person links two handles. */
export async function dragBetween(page: Page, from: { boundingBox(): Promise<Box | null> }, to: { boundingBox(): Promise<Box | null> }): Promise<void> {
  const a = await from.boundingBox();
  const b = await to.boundingBox();
  expect(a && b).toBeTruthy();
  await page.mouse.move(a!.x + a!.width / 2, a!.y + a!.height / 2);
  await page.mouse.down();
  await page.mouse.move(b!.x + b!.width / 2, b!.y + b!.height / 2, { steps: 8 });
  await page.mouse.up();
}

/** Waits until every image `selector` matches (at least one) has loaded, with a width (`naturalWidth > 0`). */
export async function imagesLoaded(page: Page, selector: string): Promise<void> {
  // A string, evaluated in the page: this file is type-checked without the DOM library.
  await page.waitForFunction(`(() => { const all = [...document.querySelectorAll(${JSON.stringify(selector)})]; return all.length > 0 && all.every((img) => img.complete && img.naturalWidth > 0); })()`);
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

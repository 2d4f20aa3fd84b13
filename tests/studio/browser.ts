import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from '@jest/globals';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { CHROMIUM } from '../global-setup.js';
import { own, ROOT, scaled } from '../helpers.js';

/** Where browser tests leave their screenshots (git-ignored). */
export const ARTIFACTS = join(ROOT, 'artifacts', 'studio');

/** How long a browser wait may take (a step of a test, within the test's own timeout), in ms. */
export const BROWSER_WAIT = scaled(30_000);

/**
 * Debian's Chromium (the suite's global setup installs it), headless, for this test file: closed after
 * all its tests, even when the hook that launched it failed or timed out.
 */
export function launchChromium(): Promise<Browser> {
  // Without the background-networking flags Chromium keeps dialling hosts this closed network refuses.
  const args = [
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-gpu',
  ];
  return own(chromium.launch({ executablePath: CHROMIUM, args, timeout: BROWSER_WAIT }), (browser) => browser.close());
}

/**
 * Waits until the text of `locator` (its first element) is `expected`, the whole text, or matches the
 * pattern; returns the text. Fails naming the text last seen, so a read never races an update.
 */
export async function textIs(locator: Locator, expected: string | RegExp): Promise<string> {
  const pattern =
    typeof expected === 'string' ? new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) : expected;
  const matching = locator.filter({ hasText: pattern }).first();
  try {
    await matching.waitFor({ state: 'attached' });
  } catch (error) {
    const seen = await locator
      .first()
      .textContent({ timeout: 1_000 })
      .catch(() => '(no such element)');
    throw new Error(
      `${String(locator)} never read ${String(expected)}; last seen: ${JSON.stringify(seen)}\n${(error as Error).message}`,
    );
  }
  return (await matching.textContent())!;
}

/** Waits until `locator` matches exactly `count` elements (present in the DOM, shown or not). */
export async function countIs(locator: Locator, count: number): Promise<void> {
  const started = Date.now();
  while ((await locator.count()) !== count) {
    if (Date.now() - started > BROWSER_WAIT)
      throw new Error(`${String(locator)} matched ${await locator.count()} elements, not ${count}`);
    await sleep(20);
  }
}

/** Saves a screenshot of `page` as artifacts/studio/<name>.png; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path });
  return path;
}

/** Drags from the centre of one element's box to the centre of another's with the mouse, as a person links two handles. */
export async function dragBetween(
  page: Page,
  from: { boundingBox(): Promise<Box | null> },
  to: { boundingBox(): Promise<Box | null> },
): Promise<void> {
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
  await page.waitForFunction(
    `(() => { const all = [...document.querySelectorAll(${JSON.stringify(selector)})]; return all.length > 0 && all.every((img) => img.complete && img.naturalWidth > 0); })()`,
  );
}

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

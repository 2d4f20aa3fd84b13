import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../emulator/index.js';
import { startStudio, type Studio } from '../../hosts/studio/server/index.js';
import { own, TOKEN } from '../helpers.js';
import { BROWSER_WAIT, screenshot } from './browser.js';

/** The studio on port 0 against its own emulator over HTTP, saving images under `dir`/out. */
export interface StudioOnEmulator {
  readonly emulator: Emulator;
  readonly studio: Studio;
  /** A temp folder of the test file's, removed after its tests. */
  readonly dir: string;
  /** Where the studio saves images: `dir`/out. */
  readonly out: string;
}

/**
 * Starts an emulator with `options` and the studio on it, each closed after the test file's tests,
 * even when this setup fails partway.
 */
export async function startStudioOnEmulator(options: EmulatorOptions, prefix: string): Promise<StudioOnEmulator> {
  const emulator = await own(startEmulator(options), (started) => started.close());
  const dir = await own(mkdtemp(join(tmpdir(), `${prefix}-`)), (made) => rm(made, { recursive: true, force: true }));
  const out = join(dir, 'out');
  const studio = await own(
    startStudio({ port: 0, baseUrl: emulator.url, out, env: { REPLICATE_API_TOKEN: TOKEN } }),
    (started) => started.close(),
  );
  return { emulator, studio, dir, out };
}

/** One test's page on the studio: a fresh browser context, and the errors the page reported. */
export interface StudioPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Uncaught errors and `console.error` lines of the page. */
  readonly errors: string[];
}

/**
 * Opens `url` in a fresh 1440×900 context of `browser`, collecting the page's errors, and waits
 * until the palette shows `paletteItem` (a block id).
 */
export async function openStudioPage(
  browser: Browser,
  url: string,
  paletteItem = 'SaveImageBlock',
): Promise<StudioPage> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(BROWSER_WAIT);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(url);
  await page.getByTestId(`palette-${paletteItem}`).waitFor();
  return { context, page, errors };
}

/** Screenshots the page under the current test's name, closes its context, and expects no page errors. */
export async function closeStudioPage({ context, page, errors }: StudioPage): Promise<void> {
  await screenshot(page, expect.getState().currentTestName ?? 'test');
  await context.close();
  expect(errors).toEqual([]);
}

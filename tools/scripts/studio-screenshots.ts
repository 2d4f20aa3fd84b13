// Photographs the studio before and after a run for the docs: docs/studio-before-run.png and
// docs/studio-after-run.png. Run once after changing the page: `npm run build && node tools/dist/tools/scripts/studio-screenshots.js`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startEmulator } from 'replicate-flux-emulator';
import type * as StudioServer from '../../hosts/studio/server/index.js';

/** Debian's Chromium, as the browser tests use it. */
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const DOCS = join(ROOT, 'docs');

async function main(): Promise<void> {
  // The built studio (hosts/dist), which finds its page under hosts/dist/studio/public.
  const { startStudio } = (await import(
    join(ROOT, 'hosts', 'dist', 'studio', 'server', 'index.js')
  )) as typeof StudioServer;
  const out = await mkdtemp(join(tmpdir(), 'studio-shots-'));
  const emulator = await startEmulator({ startingMs: 10, processingMs: 300 });
  const studio = await startStudio({ port: 0, baseUrl: emulator.url, out, env: { REPLICATE_API_TOKEN: 'r8_docs' } });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-gpu'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(studio.url);
    await page.getByTestId('examples').selectOption('generate-edit-save.json');
    await page.getByTestId('node-save').waitFor();
    await page.locator('[data-testid="run"]:enabled').waitFor();
    await page.screenshot({ path: join(DOCS, 'studio-before-run.png') });
    await page.getByTestId('run').click();
    await page.getByTestId('run-status').filter({ hasText: 'Run succeeded' }).waitFor({ timeout: 60_000 });
    await page.waitForFunction(
      `[...document.querySelectorAll('img')].every((img) => img.complete && img.naturalWidth > 0)`,
    );
    await page.screenshot({ path: join(DOCS, 'studio-after-run.png') });
  } finally {
    await browser.close();
    await studio.close();
    await emulator.close();
    await rm(out, { recursive: true, force: true });
  }
}

await main();

import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import type { Emulator } from '../../emulator/index.js';
import type { Studio } from '../../hosts/studio/server/index.js';
import { requestsTo, scaled } from '../helpers.js';
import { countIs, dragBetween, imagesLoaded, launchChromium, textIs } from './browser.js';
import { closeStudioPage, openStudioPage, startStudioOnEmulator, type StudioPage } from './studio-page.js';

// Issue 29 in a real browser: images from disk, forms that read as words, messages that are current,
// New that starts over, and the runs of the session. The studio runs on the emulator over HTTP.

let emulator: Emulator;
let studio: Studio;
let browser: Browser;
let out: string;
let png: string;
let opened: StudioPage;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  let dir: string;
  ({ emulator, studio, dir, out } = await startStudioOnEmulator({ startingMs: 10, processingMs: 200 }, 'studio-forms'));
  png = join(dir, 'lighthouse.png');
  await writeFile(
    png,
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#36c' } })
      .png()
      .toBuffer(),
  );
});

beforeEach(async () => {
  emulator.requests.splice(0);
  opened = await openStudioPage(browser, studio.url);
  page = opened.page;
});

afterEach(() => closeStudioPage(opened));

const node = (id: string) => page.getByTestId(`node-${id}`);
const results = { getByTestId: (id: string) => page.getByTestId('results').getByTestId(id) };
const withStatus = (id: string, status: string) => page.locator(`[data-testid="node-${id}"][data-status="${status}"]`);
const runEnabled = () => page.locator('[data-testid="run"]:enabled').waitFor();
const handle = (id: string, kind: 'source' | 'target', name: string) =>
  node(id).locator(`.react-flow__handle.${kind}[data-handleid="${name}"]`);

/** Waits until the input's value matches (a picked file is sent to the studio first). */
async function valueMatches(selector: string, pattern: RegExp): Promise<string> {
  await page.waitForFunction(
    `(() => { const el = document.querySelector(${JSON.stringify(selector)}); return !!el && ${pattern.toString()}.test(el.value); })()`,
  );
  return page.locator(selector).inputValue();
}

async function addByKeyboard(name: string) {
  await page.getByTestId(`palette-${name}`).focus();
  await page.keyboard.press('Enter');
}

describe('studio forms and runs (issue 29)', () => {
  test(
    'Kontext with a PNG picked from disk runs to success; after New no old result, status or message remains',
    async () => {
      await page
        .getByTestId('palette-ReplicateFluxKontextBlock')
        .dragTo(page.locator('.react-flow__pane'), { targetPosition: { x: 60, y: 40 } });
      await node('n1').waitFor();
      // Freshly dropped: a quiet hint in the node, no red error in it.
      await textIs(page.getByTestId('hint-n1'), 'To fill in: Prompt');
      await countIs(node('n1').locator('.error-detail, .node-problem'), 0);
      await textIs(page.getByTestId('problems'), /n1: 'Prompt' is empty/);

      await page.locator('#n1_prompt').fill('Make it a watercolor painting');
      await page.getByTestId('file-n1_input_image').setInputFiles(png);
      await valueMatches('#n1_input_image', /^uploads\/[0-9a-f]{16}\.png$/);
      await imagesLoaded(page, '[data-testid="thumbnail-n1_input_image"]');
      await countIs(page.getByTestId('hint-n1'), 0);

      await runEnabled();
      await page.getByTestId('run').click();
      await withStatus('n1', 'succeeded').waitFor();
      await textIs(page.getByTestId('run-status'), 'Run succeeded');
      await imagesLoaded(page, '[data-testid="results"] [data-testid="result-image"]');
      // The picked file reached the model as an image, not as a path.
      const [created] = requestsTo(
        emulator,
        'POST',
        /^\/v1\/models\/black-forest-labs\/flux-kontext-[a-z]+\/predictions$/,
      );
      const sent = String((created!.body as { input: { input_image: string } }).input.input_image);
      expect(sent).toMatch(/^(data:image\/png;base64,|https?:\/\/)/);
      // Each image once, with its saved file's path and a link to open it.
      await countIs(results.getByTestId('result'), 1);
      const file = await results.getByTestId('result-file').textContent();
      expect(file!.startsWith(out)).toBe(true);
      expect(await readdir(out)).toContain(file!.slice(out.length + 1));
      expect(await results.getByTestId('result-link').getAttribute('href')).toMatch(/^\/files\/[0-9a-f]{16}\.\w+$/);

      // New asks before discarding the graph (never exported), then leaves nothing of the run.
      const asked: string[] = [];
      page.once('dialog', (dialog) => {
        asked.push(dialog.message());
        void dialog.accept();
      });
      await page.getByRole('button', { name: 'New' }).click();
      await countIs(page.locator('.react-flow__node'), 0);
      expect(asked).toEqual(['Discard this graph? It was not exported.']);
      await countIs(results.getByTestId('result-image'), 0);
      await countIs(page.getByTestId('run-status'), 0);
      await textIs(page.getByTestId('message'), '');
      // The session's history keeps the run, and reopens its graph.
      await countIs(page.getByTestId('history-run'), 1);
      await page.getByTestId('history-run').locator('summary').click();
      await textIs(page.getByTestId('history-run').locator('summary'), /succeeded 1 node$/);
      await page.getByTestId('reopen').click();
      await node('n1').waitFor();
      await expect(page.locator('#n1_prompt').inputValue()).resolves.toBe('Make it a watercolor painting');
      await expect(page.getByTestId('node-n1').getAttribute('data-status')).resolves.toBe('idle');
    },
    scaled(90_000),
  );

  test('a dropped image file fills the field; one over 10 MiB is refused naming the limit', async () => {
    await addByKeyboard('ReplicateFluxFillBlock');
    await node('n1').waitFor();
    const bytes = [
      ...(await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } })
        .png()
        .toBuffer()),
    ];
    // A drop as the browser makes it from a file: a DataTransfer holding a File.
    const transfer = await page.evaluateHandle(
      `(() => { const t = new DataTransfer(); t.items.add(new File([new Uint8Array(${JSON.stringify(bytes)})], 'mask.png', { type: 'image/png' })); return t; })()`,
    );
    await page.getByTestId('image-n1_mask').dispatchEvent('drop', { dataTransfer: transfer });
    await valueMatches('#n1_mask', /^uploads\/[0-9a-f]{16}\.png$/);
    await imagesLoaded(page, '[data-testid="thumbnail-n1_mask"]');

    const big = Buffer.alloc(10 * 1024 * 1024 + 1);
    await page.getByTestId('file-n1_image').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: big });
    await textIs(
      page.getByTestId('image-note-n1_image'),
      'huge.png is 10485761 bytes, over the 10485760-byte (10 MiB) limit: use a smaller image or its URL',
    );
    await expect(page.locator('#n1_image').inputValue()).resolves.toBe('');
  });

  test('palette names and handles read as words; the prompt is a text area that grows with its text', async () => {
    await textIs(page.getByTestId('palette-OpenAICompatibleFluxImageBlock'), 'OpenAI-compatible Flux Image');
    await textIs(page.getByTestId('palette-ReplicateFlux2Block'), 'Replicate Flux 2');
    await addByKeyboard('ReplicateFlux2Block');
    await node('n1').waitFor();
    // The handle's label is the field's title; the form's label the same, so one name per input.
    await textIs(
      node('n1')
        .locator('ul.inputs li')
        .filter({ has: page.locator('[data-handleid="input_images"]') }),
      'Reference Images',
    );
    const prompt = page.locator('#n1_prompt');
    await expect(prompt.evaluate((el) => (el as unknown as { tagName: string }).tagName)).resolves.toBe('TEXTAREA');
    const before = (await prompt.boundingBox())!.height;
    await prompt.fill(Array.from({ length: 8 }, (_, i) => `line ${i + 1} of a long prompt`).join('\n'));
    expect((await prompt.boundingBox())!.height).toBeGreaterThan(before);
    // Every control stays inside the node.
    const box = (await node('n1').boundingBox())!;
    const controls = await node('n1').locator('input, select, textarea, button, label.file-button').all();
    for (const control of controls) {
      const inner = await control.boundingBox();
      if (!inner) continue; // hidden (folded under Advanced, or a file input)
      expect(inner.x).toBeGreaterThanOrEqual(box.x);
      expect(inner.x + inner.width).toBeLessThanOrEqual(box.x + box.width + 0.5);
    }
  });

  test('a refusal leaves the message line once the next action succeeds', async () => {
    const pane = page.locator('.react-flow__pane');
    await page
      .getByTestId('palette-ReplicateFluxAdvancedModelBlock')
      .dragTo(pane, { targetPosition: { x: 40, y: 30 } });
    await page.getByTestId('palette-SaveImageBlock').dragTo(pane, { targetPosition: { x: 460, y: 30 } });
    await node('n2').waitFor();
    await dragBetween(page, handle('n1', 'source', 'seed'), handle('n2', 'target', 'image'));
    await textIs(page.getByTestId('message'), 'Refused: seed (integer) cannot feed image (string)');
    await page.locator('#n1_prompt').fill('A red fox');
    await textIs(page.getByTestId('message'), '');
  });
});

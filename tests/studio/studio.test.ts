import { afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { createRegistry } from '../../blocks/index.js';
import type { Emulator } from '../../emulator/index.js';
import type { Studio } from '../../hosts/studio/server/index.js';
import { requestsTo, scaled, TOKEN } from '../helpers.js';
import { countIs, dragBetween, imagesLoaded, launchChromium, screenshot, textIs } from './browser.js';
import { closeStudioPage, openStudioPage, startStudioOnEmulator, type StudioPage } from './studio-page.js';

// A real browser against the studio on port 0, running on the emulator over HTTP.
// Every wait is for a state, never a fixed time; each is bounded by BROWSER_WAIT (TEST_TIME_SCALE raises it).

/** Prompts starting with this run for ten minutes on the emulator (the cancel test). */
const SLOW = 'slow:';

let emulator: Emulator;
let studio: Studio;
let browser: Browser;
let opened: StudioPage;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  ({ emulator, studio } = await startStudioOnEmulator(
    {
      startingMs: 10,
      processingMs: 300,
      // Kontext runs a little longer, so a run of the example can be seen (and photographed) midway.
      plan: ({ model, input }) =>
        String(input.prompt).startsWith(SLOW)
          ? { processingMs: 600_000 }
          : /kontext/.test(model)
            ? { processingMs: 4_000 }
            : undefined,
    },
    'studio-test',
  ));
});

beforeEach(async () => {
  emulator.requests.splice(0);
  opened = await openStudioPage(browser, studio.url);
  page = opened.page;
});

afterEach(() => closeStudioPage(opened));

const node = (id: string) => page.getByTestId(`node-${id}`);
/** A node's handle: an output (`source`) or an input (`target`), by property name. */
const handle = (id: string, kind: 'source' | 'target', name: string) =>
  node(id).locator(`.react-flow__handle.${kind}[data-handleid="${name}"]`);
const withStatus = (id: string, status: string) => page.locator(`[data-testid="node-${id}"][data-status="${status}"]`);

/** A stream's whole text. */
async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text;
}

/** Waits until Run may be clicked (the server's check of the graph comes a moment after each edit). */
const runEnabled = () => page.locator('[data-testid="run"]:enabled').waitFor();

/** Adds a block to the canvas by focusing its palette item and pressing Enter. */
async function addByKeyboard(name: string) {
  await page.getByTestId(`palette-${name}`).focus();
  await page.keyboard.press('Enter');
}

describe('studio in Chromium', () => {
  test('the token leaves the address bar, and every registered block is in the palette', async () => {
    expect(new URL(page.url()).search).toBe('');
    for (const block of createRegistry().list())
      await page.getByTestId(`palette-${block.name}`).waitFor({ state: 'visible' });
    await textIs(page.getByTestId('target'), new RegExp(emulator.url.replace(/[.]/g, '\\.')));
    await page.getByTestId('palette-search').fill('save');
    await countIs(page.locator('.palette-item'), 1);
  });

  test(
    'drag Flux Advanced and Save Image, type a prompt, link result to image, run: both succeed and the image shows',
    async () => {
      const pane = page.locator('.react-flow__pane');
      await page
        .getByTestId('palette-ReplicateFluxAdvancedModelBlock')
        .dragTo(pane, { targetPosition: { x: 40, y: 30 } });
      await page.getByTestId('palette-SaveImageBlock').dragTo(pane, { targetPosition: { x: 460, y: 30 } });
      await node('n1').waitFor();
      await node('n2').waitFor();
      await expect(node('n1').getAttribute('data-status')).resolves.toBe('idle');
      await expect(page.locator('#n2_image').getAttribute('placeholder')).resolves.toBe(
        'https://replicate.delivery/...',
      );
      // The key picker offers the studio's key by name; its value never reaches the page.
      await textIs(page.locator('#n1_credentials option:checked'), 'Replicate API token from the environment');
      await page.locator('#n1_prompt').fill('A red fox in fresh snow');

      // An integer output cannot feed an image URL input: refused, with the reason shown.
      await dragBetween(page, handle('n1', 'source', 'seed'), handle('n2', 'target', 'image'));
      await textIs(page.getByTestId('message'), 'Refused: seed (integer) cannot feed image (string)');
      await countIs(page.locator('.react-flow__edge'), 0);

      await dragBetween(page, handle('n1', 'source', 'result'), handle('n2', 'target', 'image'));
      // A level edge has a zero-height box, which Playwright calls hidden: wait for it in the DOM.
      await page.locator('.react-flow__edge').waitFor({ state: 'attached' });
      await textIs(page.getByTestId('message'), 'Linked n1.result to n2.image');
      await page.locator('#n2_image:disabled').waitFor();

      await runEnabled();
      await page.getByTestId('run').click();
      await withStatus('n1', 'succeeded').waitFor();
      await withStatus('n2', 'succeeded').waitFor();
      const preview = node('n2').locator('img.preview');
      await preview.waitFor();
      await imagesLoaded(page, '[data-testid="node-n2"] img.preview');
      await expect(
        preview.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth),
      ).resolves.toBeGreaterThan(0);
      await textIs(page.getByTestId('run-status'), 'Run succeeded');
      expect(requestsTo(emulator, 'POST', /^\/v1\/models\/black-forest-labs\/flux-schnell\/predictions$/)).toHaveLength(
        1,
      );
      expect(await page.content()).not.toContain(TOKEN);

      // The graph survives a reload.
      await page.reload();
      await node('n2').waitFor();
      await expect(page.locator('#n1_prompt').inputValue()).resolves.toBe('A red fox in fresh snow');
      await countIs(page.locator('.react-flow__edge'), 1);
    },
    scaled(90_000),
  );

  test(
    'an example graph opens from the menu and runs; each node shows its status as it goes',
    async () => {
      await page.getByTestId('examples').selectOption('generate-edit-save.json');
      await node('save').waitFor();
      await countIs(page.locator('.react-flow__edge'), 2);
      await runEnabled();
      await page.getByTestId('run').click();

      // Midway: generate done with its image, edit running (Kontext takes 4 s here), save waiting.
      await withStatus('generate', 'succeeded').waitFor();
      await page
        .getByTestId('status-edit')
        .filter({ hasText: /^running \d+%$/ })
        .waitFor();
      await withStatus('save', 'queued').waitFor();
      await node('generate').locator('img.preview').waitFor();
      await imagesLoaded(page, '[data-testid="node-generate"] img.preview');
      await screenshot(page, 'studio-mid-run');

      await withStatus('save', 'succeeded').waitFor();
      await withStatus('edit', 'succeeded').waitFor();
      // The run panel's results (the session's history below holds them too, folded).
      await page.getByTestId('results').getByTestId('result-image').last().waitFor();
      await imagesLoaded(page, '[data-testid="results"] [data-testid="result-image"]');
    },
    scaled(90_000),
  );

  test('an out-of-range value shows a field error and Run is refused', async () => {
    await addByKeyboard('ReplicateFluxAdvancedModelBlock');
    await node('n1').waitFor();
    await page.locator('#n1_prompt').fill('A lighthouse');
    await node('n1').locator('details.advanced summary').click();
    // Ranges are bounded inputs, enums selects, as editors read the schema.
    const steps = page.locator('#n1_steps');
    await expect(
      Promise.all([steps.getAttribute('type'), steps.getAttribute('min'), steps.getAttribute('max')]),
    ).resolves.toEqual(['number', '1', '50']);
    await page.locator('select#n1_aspect_ratio').waitFor();
    await page.locator('#n1_steps').fill('500');
    await textIs(node('n1').locator('.error-detail'), /must be <= 50/);
    await textIs(page.getByTestId('problems'), /n1: 'Steps' must be <= 50/);
    const runs: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/api/runs')) runs.push(request.url());
    });
    await page.locator('[data-testid="run"]:disabled').waitFor();
    await page.getByTestId('run').click({ force: true });

    // Back in range: the problem goes and Run is allowed again.
    await page.locator('#n1_steps').fill('20');
    await runEnabled();
    expect(runs).toEqual([]);
    expect(emulator.requests).toEqual([]);
  });

  test('the server check marks the node it names: a model-specific value the schema alone allows', async () => {
    await addByKeyboard('ReplicateFluxKontextBlock');
    await node('n1').waitFor();
    await page.locator('#n1_prompt').fill('Make it snow');
    await node('n1').locator('details.advanced summary').click();
    await page.locator('#n1_num_inference_steps').fill('30');
    // The problem shown first (the prompt still empty) gives way to the server's, once it answered.
    await textIs(node('n1').locator('.node-problem'), /^Node n1 \(ReplicateFluxKontextBlock\): .*num_inference_steps/);
    await page.locator('[data-testid="run"]:disabled').waitFor();
  });

  test('a graph file opens and exports in the AutoGPT shape; the server check marks the link it names', async () => {
    const link = { source_id: 'make', source_name: 'error', sink_id: 'keep', sink_name: 'image' };
    const graph = {
      name: 'Broken on purpose',
      nodes: [
        { id: 'make', block_id: 'ReplicateFluxAdvancedModelBlock', input_default: { prompt: 'a red fox' } },
        { id: 'keep', block_id: 'SaveImageBlock', input_default: {} },
      ],
      links: [link],
    };
    await page
      .getByTestId('open-file')
      .setInputFiles({ name: 'broken.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(graph)) });
    await node('keep').waitFor();
    const marked = page.locator('.react-flow__edge.invalid');
    await marked.waitFor({ state: 'attached' });
    const linkProblem =
      'Link make.error -> keep.image: links from error are not supported; a failing node stops its downstream';
    await textIs(marked.locator('.react-flow__edge-text'), linkProblem);
    await page.locator('[data-testid="run"]:disabled').waitFor();
    // The missing key reference is filled with the studio's, so the link is the only problem.
    await textIs(page.getByTestId('problems').locator('li'), linkProblem);
    await countIs(page.getByTestId('problems').locator('li'), 1);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export').click()]);
    const exported = JSON.parse(await streamText(await download.createReadStream())) as typeof graph;
    expect(exported.links).toEqual([link]);
    expect(exported.nodes.map((n) => [n.id, n.block_id, n.input_default.prompt])).toEqual([
      ['make', '90f8c45e-e983-4644-aa0b-b4ebe2f531bc', 'a red fox'],
      ['keep', '247abf79-a340-47e8-a79c-0703e3ebed4c', undefined],
    ]);
  });

  test('a graph file over 4 MiB is refused before it is read, naming the limit', async () => {
    const big = Buffer.from(JSON.stringify({ nodes: [], links: [], name: 'x'.repeat(4 * 1024 * 1024) }));
    await page.getByTestId('open-file').setInputFiles({ name: 'big.json', mimeType: 'application/json', buffer: big });
    await textIs(
      page.getByTestId('message'),
      `Could not open big.json: it is ${big.length} bytes, over the 4194304-byte (4 MiB) limit of a graph`,
    );
  });

  test('Cancel stops a long run and the emulator receives the cancel request', async () => {
    await addByKeyboard('ReplicateFluxAdvancedModelBlock');
    await page.locator('#n1_prompt').fill(`${SLOW} a glacier calving, in slow motion`);
    await runEnabled();
    await page.getByTestId('run').click();
    await withStatus('n1', 'running').waitFor();
    await page
      .getByTestId('status-n1')
      .filter({ hasText: /running \d+%$/ })
      .waitFor();
    await page.getByTestId('cancel').click();
    await withStatus('n1', 'canceled').waitFor();
    await textIs(page.getByTestId('run-status'), 'Run canceled');
    const created = requestsTo(emulator, 'POST', /^\/v1\/models\/black-forest-labs\/flux-schnell\/predictions$/);
    expect(created).toHaveLength(1);
    expect(requestsTo(emulator, 'POST', /^\/v1\/predictions\/[a-z2-7]+\/cancel$/)).toHaveLength(1);
  });

  test('an API call without the session token gets 401, one with a foreign Origin 403', async () => {
    const base = new URL(studio.url).origin;
    const stranger = await browser.newContext();
    try {
      const answer = await (await stranger.newPage()).goto(`${base}/api/blocks`);
      expect(answer?.status()).toBe(401);
    } finally {
      await stranger.close();
    }
    // This context holds the session cookie; the Origin alone makes it a refusal.
    const foreign = await page.request.post(`${base}/api/runs`, {
      headers: { Origin: 'http://evil.example' },
      data: { nodes: [] },
    });
    expect(foreign.status()).toBe(403);
    const own = await page.request.post(`${base}/api/check`, { headers: { Origin: base }, data: { nodes: [] } });
    expect(own.status()).toBe(200);
    expect(await own.json()).toMatchObject({ ok: false, error: expect.stringMatching(/^Invalid graph: /) });
  });
});

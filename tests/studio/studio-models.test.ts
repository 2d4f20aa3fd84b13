import { afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import type { Emulator } from '../../emulator/index.js';
import type { Studio } from '../../hosts/studio/server/index.js';
import { requestsTo, scaled } from '../helpers.js';
import { countIs, launchChromium, textIs } from './browser.js';
import { closeStudioPage, openStudioPage, startStudioOnEmulator, type StudioPage } from './studio-page.js';

// Issue 28 in a real browser: the any-model node searches Replicate's models, picks one, shows its
// input form from the model's published schema, and checks the input against it before a run.

let emulator: Emulator;
let studio: Studio;
let browser: Browser;
let opened: StudioPage;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  ({ emulator, studio } = await startStudioOnEmulator({ startingMs: 10, processingMs: 200 }, 'studio-models'));
});

beforeEach(async () => {
  emulator.requests.splice(0);
  opened = await openStudioPage(browser, studio.url, 'ReplicateModelBlock');
  page = opened.page;
});

afterEach(() => closeStudioPage(opened));

const node = (id: string) => page.getByTestId(`node-${id}`);
const withStatus = (id: string, status: string) => page.locator(`[data-testid="node-${id}"][data-status="${status}"]`);
const runEnabled = () => page.locator('[data-testid="run"]:enabled').waitFor();
/** The search hit for exactly `model` (not `model-lora`). */
const hitOf = (model: string) => page.getByTestId('model-hit').filter({ has: page.getByText(model, { exact: true }) });
const runDisabled = () => page.locator('[data-testid="run"]:disabled').waitFor();

/** Adds a Replicate Model node (n1), searches for `query` and picks `model` from the hits. */
async function pickModel(query: string, model: string) {
  await page.getByTestId('palette-ReplicateModelBlock').focus();
  await page.keyboard.press('Enter');
  await node('n1').waitFor();
  await page.getByTestId('model-query-n1').fill(query);
  await page.getByTestId('model-search-n1').click();
  const hit = hitOf(model);
  await hit.waitFor();
  await hit.click();
  await countIs(page.getByTestId('model-hit'), 0);
  await expect(page.locator('#n1_model').inputValue()).resolves.toBe(model);
  // The model's form replaces the JSON input: its fields appear under `input`.
  await page.locator('#n1_input_prompt').waitFor();
}

describe('studio: the any-model node searches, picks and checks a model (issue 28)', () => {
  test(
    "search flux, pick Flux Schnell: its form has the schema's enum as a select, and the run succeeds with the chosen values",
    async () => {
      await page.getByTestId('palette-ReplicateModelBlock').focus();
      await page.keyboard.press('Enter');
      await node('n1').waitFor();
      await page.getByTestId('model-query-n1').fill('flux');
      await page.getByTestId('model-search-n1').click();
      // Each hit reads as owner/name, its run count and its description.
      await textIs(
        hitOf('black-forest-labs/flux-schnell'),
        /^black-forest-labs\/flux-schnell0 runsblack-forest-labs\/flux-schnell \(emulated\)$/,
      );
      expect(await page.getByTestId('model-hit').count()).toBeGreaterThan(3);
      await hitOf('black-forest-labs/flux-schnell').click();
      await countIs(page.getByTestId('model-hit'), 0);
      await expect(page.locator('#n1_model').inputValue()).resolves.toBe('black-forest-labs/flux-schnell');

      // The enum is a select of the schema's values; the required prompt is asked for by name.
      const ratio = page.locator('#n1_input_aspect_ratio');
      await ratio.waitFor();
      await expect(ratio.evaluate((el) => (el as unknown as { tagName: string }).tagName)).resolves.toBe('SELECT');
      const options = await ratio.locator('option').allTextContents();
      expect(options).toEqual(expect.arrayContaining(['1:1', '16:9', '21:9', '9:16']));
      await textIs(page.getByTestId('hint-n1'), 'To fill in: Input: Prompt');
      await countIs(page.locator('#n1_input'), 0); // no JSON text area any more
      await expect(page.locator('#n1_input_num_outputs').getAttribute('max')).resolves.toBe('4');

      await ratio.selectOption('16:9');
      await page.locator('#n1_input_prompt').fill('A red fox in the snow');
      await countIs(page.getByTestId('hint-n1'), 0);
      await runEnabled();
      await page.getByTestId('run').click();
      await withStatus('n1', 'succeeded').waitFor();
      await textIs(page.getByTestId('run-status'), 'Run succeeded');
      const creates = requestsTo(emulator, 'POST', /^\/v1\/models\/black-forest-labs\/flux-schnell\/predictions$/);
      expect(creates).toHaveLength(1);
      expect((creates[0]!.body as { input: Record<string, unknown> }).input).toMatchObject({
        prompt: 'A red fox in the snow',
        aspect_ratio: '16:9',
      });

      // After a reload the graph comes back from localStorage, and the node loads its model's form again.
      await page.reload();
      await page.locator('#n1_input_aspect_ratio').waitFor();
      // rjsf's options carry indices as values: the chosen one is read by its label.
      await textIs(page.locator('#n1_input_aspect_ratio option:checked'), '16:9');
      await expect(page.locator('#n1_input_prompt').inputValue()).resolves.toBe('A red fox in the snow');
    },
    scaled(90_000),
  );

  test(
    "a value out of the schema's range is refused before the run, naming the field; no prediction is created",
    async () => {
      const before = emulator.created;
      await pickModel('flux schnell', 'black-forest-labs/flux-schnell');
      await page.locator('#n1_input_prompt').fill('A red fox');
      await page.locator('#n1_input_num_outputs').fill('7');
      await textIs(page.getByTestId('problems'), /n1: 'Num Outputs' must be <= 4/);
      await runDisabled();
      await page.getByTestId('run').click({ force: true });
      // Back in range it runs: the only prediction made is this one, with 4 outputs.
      await page.locator('#n1_input_num_outputs').fill('4');
      await countIs(page.getByTestId('problems'), 0);
      await runEnabled();
      await page.getByTestId('run').click();
      await textIs(page.getByTestId('run-status'), 'Run succeeded');
      expect(emulator.created - before).toBe(1);
      const [create] = requestsTo(emulator, 'POST', /\/predictions$/);
      expect((create!.body as { input: { num_outputs: number } }).input.num_outputs).toBe(4);
    },
    scaled(90_000),
  );

  test('a model name typed in: its form loads, its image input gets the picker; an unknown one keeps the JSON input', async () => {
    await page.getByTestId('palette-ReplicateModelBlock').focus();
    await page.keyboard.press('Enter');
    await node('n1').waitFor();
    await page.locator('#n1_model').fill('black-forest-labs/flux-dev');
    await page.getByTestId('image-n1_input_image').waitFor();
    await page.getByTestId('file-n1_input_image').waitFor({ state: 'attached' });
    await expect(page.locator('#n1_input_prompt_strength').getAttribute('max')).resolves.toBe('1');
    // An unknown model: the node says so, and its input stays JSON.
    await page.locator('#n1_model').fill('nobody-at-all/no-such-model');
    await textIs(
      page.getByTestId('model-note-n1'),
      'No model nobody-at-all/no-such-model on Replicate: check its name, or search for it',
    );
    await countIs(page.getByTestId('image-n1_input_image'), 0);
    // Its input is a JSON text area again; what is typed there is the input the next model's form shows.
    await page.locator('#n1_input').fill('{"prompt": "a fox in JSON", "num_outputs": 2}');
    await page.locator('#n1_model').fill('black-forest-labs/flux-schnell');
    await page.locator('#n1_input_prompt').waitFor();
    await expect(page.locator('#n1_input_prompt').inputValue()).resolves.toBe('a fox in JSON');
    await expect(page.locator('#n1_input_num_outputs').inputValue()).resolves.toBe('2');
  });
});

import { afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import type { Emulator } from '../../emulator/index.js';
import type { Studio } from '../../hosts/studio/server/index.js';
import { scaled } from '../helpers.js';
import { launchChromium, textIs } from './browser.js';
import { closeStudioPage, openStudioPage, startStudioOnEmulator, type StudioPage } from './studio-page.js';

// Issue 28 in a real browser: the worst-case cost next to Run follows the graph as it is edited,
// and after a run the actual cost shows. The studio runs on the emulator over HTTP.

let emulator: Emulator;
let studio: Studio;
let browser: Browser;
let opened: StudioPage;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium();
  ({ emulator, studio } = await startStudioOnEmulator({ startingMs: 10, processingMs: 100 }, 'studio-cost'));
});

beforeEach(async () => {
  emulator.requests.splice(0);
  opened = await openStudioPage(browser, studio.url);
  page = opened.page;
});

afterEach(() => closeStudioPage(opened));

const node = (id: string) => page.getByTestId(`node-${id}`);
const estimate = () => page.getByTestId('estimate');

async function addByKeyboard(name: string) {
  await page.getByTestId(`palette-${name}`).focus();
  await page.keyboard.press('Enter');
}

describe('the cost next to Run (issue 28)', () => {
  test(
    'the worst case follows num_outputs and the model; unknown prices are named; a run shows its actual cost',
    async () => {
      await addByKeyboard('ReplicateFluxAdvancedModelBlock');
      await node('n1').waitFor();
      // The prompt still empty: the graph cannot run, so there is no figure yet.
      await textIs(estimate(), 'Worst case: once the graph can run');
      await page.locator('#n1_prompt').fill('A red fox');
      await textIs(estimate(), 'Worst case: $0.003');

      await node('n1').locator('details.advanced summary').click();
      await page.locator('#n1_num_outputs').fill('4');
      await textIs(estimate(), 'Worst case: $0.012');
      await page.locator('#n1_replicate_model_name').selectOption('Flux Dev');
      await textIs(estimate(), 'Worst case: $0.1');
      // Flux Pro makes one image and refuses num_outputs: no figure while the graph cannot run.
      await page.locator('#n1_replicate_model_name').selectOption('Flux Pro');
      await textIs(estimate(), 'Worst case: once the graph can run');
      await page.locator('#n1_replicate_model_name').selectOption('Flux Schnell');
      await textIs(estimate(), 'Worst case: $0.012');

      // Run: the actual cost of the run shows beside its status.
      await page.locator('[data-testid="run"]:enabled').waitFor();
      await page.getByTestId('run').click();
      await textIs(page.getByTestId('run-status'), 'Run succeeded');
      await textIs(page.getByTestId('actual-cost'), 'Actual cost: $0.012');
      await textIs(
        page.getByTestId('actual-cost-nodes'),
        'n1 (ReplicateFluxAdvancedModelBlock): black-forest-labs/flux-schnell: 4 images x $0.003 = $0.012',
      );

      // A model without a known price: the total is "at least", and the node is named with its model.
      emulator.requests.splice(0);
      await addByKeyboard('ReplicateFlux2Block');
      await node('n2').waitFor();
      await page.locator('#n2_prompt').fill('A red fox');
      await textIs(estimate(), 'Worst case: at least $0.012, 1 node unknown (n2)');
      await textIs(page.getByTestId('estimate-unknown'), 'n2: price unknown (black-forest-labs/flux-2-pro)');
      // Estimating creates nothing.
      expect(emulator.requests).toEqual([]);
    },
    scaled(90_000),
  );
});

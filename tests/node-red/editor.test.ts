import { createDecipheriv, createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, expect, test } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { own, ROOT, spawnOwned, TOKEN, until } from '../helpers.js';
import { BROWSER_WAIT, countIs, dragBetween, launchChromium, screenshot } from '../studio/browser.js';

// The real Node-RED 4.1.8 as a child process on a loopback port, its user directory a temp folder whose
// node_modules links the package, driven through its editor in Chromium: the Flux palette, a Flux node
// and its Replicate config node built by hand, the Deploy button, then the files Node-RED wrote.

const require = createRequire(import.meta.url);
const PACKAGE = join(ROOT, 'integrations', 'node-red');
/** The key Node-RED encrypts flows_cred.json with (settings.credentialSecret). */
const SECRET = 'flux-blocks-editor-test-secret';

let userDir: string;
let url: string;
let log = '';
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  userDir = await own(mkdtemp(join(tmpdir(), 'flux-node-red-editor-')), (made) =>
    rm(made, { recursive: true, force: true }),
  );
  // As `npm install node-red-contrib-flux-blocks` in ~/.node-red leaves it: a dependency in package.json,
  // the package under node_modules (a link here, to the workspace's copy).
  await writeFile(
    join(userDir, 'package.json'),
    JSON.stringify({ name: 'node-red-project', private: true, dependencies: { 'node-red-contrib-flux-blocks': '*' } }),
  );
  await mkdir(join(userDir, 'node_modules'));
  await symlink(PACKAGE, join(userDir, 'node_modules', 'node-red-contrib-flux-blocks'), 'dir');
  const settings = {
    uiHost: '127.0.0.1',
    // Port 0: the system picks a free one, and Node-RED logs it ("Server now running at ...").
    uiPort: 0,
    flowFile: 'flows.json',
    credentialSecret: SECRET,
    // No welcome tour and no telemetry question over the canvas.
    editorTheme: { tours: false },
    telemetry: { enabled: false },
  };
  await writeFile(join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings)};\n`);
  const child = spawnOwned(
    process.execPath,
    [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', join(userDir, 'settings.js')],
    { cwd: userDir },
  );
  child.stdout.on('data', (chunk) => (log += String(chunk)));
  child.stderr.on('data', (chunk) => (log += String(chunk)));
  const running = await until(() => {
    if (child.exitCode !== null) throw new Error(`Node-RED exited (${child.exitCode}):\n${log}`);
    return /Started flows/.test(log) && /Server now running at (http:\/\/127\.0\.0\.1:[1-9]\d*\/)/.exec(log);
  });
  url = running[1]!;
  page = await own(browser.newPage({ viewport: { width: 1440, height: 900 } }), (opened) => opened.close());
  page.setDefaultTimeout(BROWSER_WAIT);
  page.on('pageerror', (error) => pageErrors.push(String(error)));
});

afterEach(async () => {
  await screenshot(page, `node-red-${expect.getState().currentTestName ?? 'editor'}`);
});

/** Node-RED's decryption of flows_cred.json: aes-256-ctr, key sha256(credentialSecret), 16-byte IV as hex up front. */
function decrypt(sealed: string): unknown {
  const key = createHash('sha256').update(SECRET).digest();
  const decipher = createDecipheriv('aes-256-ctr', key, Buffer.from(sealed.slice(0, 32), 'hex'));
  return JSON.parse(decipher.update(sealed.slice(32), 'base64', 'utf8') + decipher.final('utf8'));
}

test('the editor shows the Flux palette; a Flux node with its config node deploys with the token only in the encrypted credentials file', async () => {
  await page.goto(url);
  const flux = page.locator('#red-ui-palette-container-Flux');
  await flux.locator('#red-ui-palette-header-Flux').waitFor();
  const specs = require(join(PACKAGE, 'nodes', 'blocks.json')) as Array<{ type: string }>;
  const paletteNodes = flux.locator('.red-ui-palette-node');
  await countIs(paletteNodes, specs.length);
  const types = await Promise.all((await paletteNodes.all()).map((node) => node.getAttribute('data-palette-type')));
  expect(types).toEqual(specs.map((spec) => spec.type));

  // Drag Flux Advanced from the palette onto the canvas, as a person does.
  const paletteNode = flux.locator('.red-ui-palette-node[data-palette-type="flux-replicate-flux-advanced-model"]');
  await paletteNode.scrollIntoViewIfNeeded();
  await dragBetween(page, paletteNode, page.locator('#red-ui-workspace-chart'));
  const placed = page.locator('#red-ui-workspace-chart g.red-ui-flow-node-group');
  await placed.first().waitFor();
  await placed.first().locator('rect.red-ui-flow-node').dblclick();

  // Its edit tray: a prompt, then a new Replicate config node through the pencil beside the field.
  await page.locator('#node-input-prompt').fill('a lighthouse at dawn');
  await page.locator('#node-input-btn-replicate-add').click();
  await page.locator('#node-config-input-token').fill(TOKEN);
  await page.locator('#node-config-input-name').fill('Replicate test');
  await page.locator('#node-config-dialog-ok').click();
  await page.locator('#node-config-input-token').waitFor({ state: 'detached' });
  await page.locator('#node-dialog-ok').click();
  await page.locator('#node-input-prompt').waitFor({ state: 'detached' });

  await page.locator('#red-ui-header-button-deploy').click();
  await page
    .locator('.red-ui-notification')
    .filter({ hasText: /deployed/i })
    .first()
    .waitFor();

  const flows = await until(async () => {
    const text = await readFile(join(userDir, 'flows.json'), 'utf8').catch(() => '');
    return text.includes('flux-replicate-flux-advanced-model') && text;
  });
  const nodes = JSON.parse(flows) as Array<Record<string, unknown>>;
  const config = nodes.find((node) => node.type === 'flux-replicate-config')!;
  expect(config).toMatchObject({ name: 'Replicate test' });
  expect(nodes.find((node) => node.type === 'flux-replicate-flux-advanced-model')).toMatchObject({
    replicate: config.id,
    prompt: 'a lighthouse at dawn',
  });
  expect(flows).not.toContain(TOKEN);
  expect(flows).not.toContain('credentials');

  const sealed = JSON.parse(await readFile(join(userDir, 'flows_cred.json'), 'utf8')) as { $: string };
  expect(JSON.stringify(sealed)).not.toContain(TOKEN);
  expect(decrypt(sealed.$)).toEqual({ [String(config.id)]: { token: TOKEN } });

  // The runtime started the deployed nodes without an error, and the token reached no log line.
  await until(() => (log.match(/Started flows/g) ?? []).length >= 2);
  expect(log).not.toMatch(/\[error\]/);
  expect(log).not.toContain(TOKEN);
  expect(pageErrors).toEqual([]);
});

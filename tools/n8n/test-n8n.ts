import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startEmulator } from 'replicate-flux-emulator';
import { REPO_ROOT } from '../paths.js';
import { installOnce } from './cache.js';

// `npm run test:n8n` (opt-in, not in `npm test`): runs a real n8n 2.8.4 workflow, Manual Trigger →
// Flux Blocks, against the emulator on loopback, and checks the node's output has the image URL and
// the image as binary data. Exits non-zero otherwise. n8n 2.8.4 is the last to accept Node 20; its
// n8n-nodes-base fetches xlsx from a CDN outside the registry, hence the override.
const VERSION = '2.8.4';
const STEP_TIMEOUT_MS = 5 * 60_000;
const MAX_OUTPUT_BYTES = 256 << 20;
const exec = promisify(execFile);
const TOKEN = 'r8_n8n_test_token_0123456789abcdefghijkl';

const started = Date.now();
const emulator = await startEmulator({ token: TOKEN, startingMs: 10, processingMs: 40 });
const dir = await mkdtemp(join(tmpdir(), 'flux-blocks-n8n-'));
try {
  const install = await installOnce(
    `n8n-${VERSION}`,
    { n8n: VERSION },
    { overrides: { xlsx: 'npm:@e965/xlsx@0.20.3' } },
  );
  const n8n = join(install, 'node_modules', '.bin', 'n8n');

  // The built package as n8n finds a custom extension: its dist files, with n8n's own n8n-workflow.
  const custom = join(dir, 'custom', 'n8n-nodes-flux-blocks');
  await cp(join(REPO_ROOT, 'integrations', 'n8n', 'dist'), join(custom, 'dist'), { recursive: true });
  await cp(join(REPO_ROOT, 'integrations', 'n8n', 'package.json'), join(custom, 'package.json'));
  await mkdir(join(custom, 'node_modules'));
  await symlink(join(install, 'node_modules', 'n8n-workflow'), join(custom, 'node_modules', 'n8n-workflow'));

  const credentials = [
    {
      id: 'FluxBlocksCred01',
      name: 'Emulator',
      type: 'fluxBlocksApi',
      data: { apiToken: TOKEN, baseUrl: emulator.url },
    },
  ];
  const workflow = {
    id: 'FluxBlocksTest01',
    name: 'Flux Blocks test',
    active: false,
    settings: {},
    nodes: [
      {
        id: 'trigger',
        name: 'Manual Trigger',
        type: 'n8n-nodes-base.manualTrigger',
        typeVersion: 1,
        position: [0, 0],
        parameters: {},
      },
      {
        id: 'flux',
        name: 'Flux Blocks',
        type: 'CUSTOM.fluxBlocks',
        typeVersion: 1,
        position: [220, 0],
        parameters: {
          operation: 'ReplicateFluxAdvancedModelBlock',
          prompt: 'a lighthouse at dusk',
          replicate_model_name: 'Flux Schnell',
          additionalFields: { seed: 7, output_format: 'png' },
        },
        credentials: { fluxBlocksApi: { id: 'FluxBlocksCred01', name: 'Emulator' } },
      },
    ],
    connections: { 'Manual Trigger': { main: [[{ node: 'Flux Blocks', type: 'main', index: 0 }]] } },
  };
  await writeFile(join(dir, 'credentials.json'), JSON.stringify(credentials));
  await writeFile(join(dir, 'workflow.json'), JSON.stringify(workflow));
  const env = {
    ...process.env,
    N8N_USER_FOLDER: join(dir, 'user'),
    N8N_CUSTOM_EXTENSIONS: join(dir, 'custom'),
    N8N_DIAGNOSTICS_ENABLED: 'false',
    N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
    N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
    // n8n 2.8 prints --rawOutput's run data through its logger at info level: 'warn' hides it.
    N8N_LOG_LEVEL: 'info',
  };
  let lastStderr = '';
  const step = async (args: string[]) => {
    console.log(`$ n8n ${args.join(' ')}`);
    const { stdout, stderr } = await exec(n8n, args, {
      env,
      cwd: dir,
      timeout: STEP_TIMEOUT_MS,
      maxBuffer: MAX_OUTPUT_BYTES,
    });
    lastStderr = stderr;
    return stdout;
  };
  await step(['import:credentials', `--input=${join(dir, 'credentials.json')}`]);
  await step(['import:workflow', `--input=${join(dir, 'workflow.json')}`]);
  const stdout = await step(['execute', '--id=FluxBlocksTest01', '--rawOutput']);

  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.slice(stdout.indexOf('{'), stdout.lastIndexOf('}') + 1));
  } catch {
    throw new Error(
      `n8n execute printed no JSON; its output began: ${stdout.slice(0, 2000) || '(nothing)'}; stderr ended: ${lastStderr.slice(-2000) || '(nothing)'}`,
    );
  }
  const item = findItem(parsed);
  const urls = item?.json.result;
  const image = item?.binary?.data;
  if (!Array.isArray(urls) || !String(urls[0]).startsWith(emulator.url.replace(/\/v1$/, '')))
    throw new Error(
      `no image URL from the emulator in the node's output: ${JSON.stringify(item?.json ?? stdout.slice(0, 2000))}`,
    );
  if (!image || !String(image.mimeType).startsWith('image/'))
    throw new Error(`no image in the node's binary output: ${JSON.stringify(item?.binary ?? null)}`);
  console.log(
    `n8n ${VERSION} ran Manual Trigger → Flux Blocks: result ${String(urls[0])}, binary ${image.mimeType} ${image.fileSize ?? ''}`,
  );
  console.log(`test:n8n passed in ${Math.round((Date.now() - started) / 1000)} s`);
} catch (error) {
  const detail = error as { stderr?: string; message?: string };
  console.error(`test:n8n failed: ${detail.message ?? String(error)}`);
  if (detail.stderr) console.error(detail.stderr.slice(-4000));
  process.exitCode = 1;
} finally {
  await emulator.close();
  await rm(dir, { recursive: true, force: true });
}

type Item = { json: { result?: unknown }; binary?: { data?: { mimeType?: string; fileSize?: string } } };

/** The first object in `value` shaped like the node's output item (json.result), searched depth-first. */
function findItem(value: unknown, depth = 0): Item | undefined {
  if (!value || typeof value !== 'object' || depth > 64) return undefined;
  const json = (value as { json?: { result?: unknown } }).json;
  if (json && typeof json === 'object' && 'result' in json) return value as Item;
  for (const child of Object.values(value)) {
    const found = findItem(child, depth + 1);
    if (found) return found;
  }
  return undefined;
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { TOKEN, useEmulator } from '../helpers.js';
import { cli } from './cli-process.js';

const local = useEmulator();
let cwd: string;
beforeAll(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'flux-blocks-search-'));
});
afterAll(() => rm(cwd, { recursive: true, force: true }));
const env = () => ({ REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: local.emulator.url });

describe('flux-blocks search', () => {
  test('prints one line per model: owner/name, description, run count', async () => {
    const run = await cli(['search', 'flux', 'schnell'], { env: env(), cwd });
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual([
      'black-forest-labs/flux-schnell  black-forest-labs/flux-schnell (emulated)  0 runs',
      'black-forest-labs/flux-schnell-lora  black-forest-labs/flux-schnell-lora (emulated)  0 runs',
      'lucataco/flux-schnell-lora  lucataco/flux-schnell-lora (emulated)  0 runs',
    ]);
    expect(local.emulator.requests.map((r) => r.path)).toEqual(['/v1/search?query=flux+schnell&limit=20']);
  });

  test('--json --limit 1: one JSON object per line', async () => {
    const run = await cli(['search', 'flux', '--json', '--limit', '1'], { env: env(), cwd });
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ model: expect.stringMatching(/^[\w.-]+\/[\w.-]+$/), runCount: 0 });
  });

  test('falls back to QUERY /v1/models when the search API is missing', async () => {
    local.emulator.inject({ route: 'search', answer: { status: 404 } });
    const run = await cli(['search', 'kontext', 'dev', '--limit', '3'], { env: env(), cwd });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('black-forest-labs/flux-kontext-dev  ');
    expect(local.emulator.requests.map((r) => r.method)).toEqual(['GET', 'QUERY']);
  });

  test.each<[string[], RegExp]>([
    [['search'], /search takes the words to search for/],
    [['search', 'flux', '--limit', '51'], /--limit takes at most 50/],
    [['search', 'flux', '--limit', 'x'], /--limit takes a whole number/],
  ])('%j is a usage error (exit 2), before any request', async (args, message) => {
    const run = await cli(args, { env: env(), cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(local.emulator.requests).toEqual([]);
  });

  test('an API failure is one line on stderr and exit 1, without the token', async () => {
    local.emulator.inject({ route: 'search', answer: { status: 401 } });
    const run = await cli(['search', 'flux'], { env: env(), cwd });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^flux-blocks: .*401|unauthori/im);
    expect(run.stderr).not.toContain(TOKEN);
  });
});

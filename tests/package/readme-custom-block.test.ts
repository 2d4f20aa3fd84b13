// The README's custom block, as a user would write it: only `replicate-flux-blocks/sdk` and zod,
// type-checked against the built package's declarations, then run against the emulator.
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from '@jest/globals';
import ts from 'typescript';
import { ROOT, TOKEN, useEmulator } from '../helpers.js';

const handle = useEmulator();
// Inside the repository so imports by package name resolve through node_modules as in a user's project.
const dir = join(ROOT, 'node_modules', '.cache', `readme-block-${process.pid}`);
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The README's TypeScript example that imports from the sdk entry. */
async function readmeBlock(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const block = blocks.find((code) => code.includes("from 'replicate-flux-blocks/sdk'"));
  expect(block).toBeDefined();
  return block!;
}

test('the README custom block type-checks against the package and runs a model', async () => {
  const source = await readmeBlock();
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'block.ts'), source);
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck'];
  execFileSync(process.execPath, [tsc, ...flags, join(dir, 'block.ts')], { cwd: dir, encoding: 'utf8' });

  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  await writeFile(join(dir, 'block.mjs'), outputText);
  const exported = /export const (\w+Block)\b/.exec(source)?.[1];
  expect(exported).toBeDefined();
  const driver = `
    import { runBlock } from 'replicate-flux-blocks';
    import { ${exported} as block } from './block.mjs';
    const input = JSON.parse(process.env.BLOCK_INPUT);
    const context = { credentials: { apiKey: process.env.TOKEN }, runner: { baseUrl: process.env.BASE_URL } };
    const outputs = [];
    for await (const output of runBlock(block, input, context)) outputs.push(output);
    console.log(JSON.stringify(outputs));`;
  await writeFile(join(dir, 'driver.mjs'), driver);
  // Asynchronously: the emulator answers from this process.
  const run = async (input: unknown) => {
    const env = { ...process.env, TOKEN, BASE_URL: handle.emulator.url, BLOCK_INPUT: JSON.stringify(input) };
    const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'driver.mjs')], { cwd: dir, env });
    return JSON.parse(stdout) as Array<[string, unknown]>;
  };

  const credentials = { provider: 'replicate', id: 'my-replicate-key', type: 'api_key' };
  const outputs = await run({ credentials, subject: 'a red panda astronaut' });
  expect(outputs).toEqual([['result', expect.any(String)]]);
  expect(String(outputs[0]![1]).startsWith(new URL(handle.emulator.url).origin)).toBe(true);
  const create = handle.emulator.requests.find(
    (request) => request.method === 'POST' && /predictions$/.test(request.path),
  );
  expect(JSON.stringify(create?.body)).toContain('a red panda astronaut');

  // Bad input is the block's error output, before any request.
  handle.emulator.requests.splice(0);
  const refused = await run({ credentials, subject: '' });
  expect(refused).toEqual([['error', expect.stringMatching(/^Invalid input: subject/)]]);
  expect(handle.emulator.requests).toEqual([]);
});

// Every ```ts, ```js, ```sh and ```bash block of README.md and docs/*.md, as a reader would use it:
// TypeScript and JavaScript type-checked against the built package (imported by package name), and
// every block run here (TypeScript against the emulator, shell through the built CLI on its
// embedded emulator) unless the line before it says why not: `<!-- not run: <reason> -->`. A block
// that only makes sense after the one before it says `<!-- continues the block above -->` and is
// checked and run joined to it.
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from '@jest/globals';
import ts from 'typescript';
import { ROOT, scaled, spawnOwned, TOKEN, useEmulator } from '../helpers.js';

/** One fenced code block of a markdown file. */
interface CodeBlock {
  /** `README.md:123`: the file and the line of its opening fence. */
  readonly where: string;
  readonly lang: 'ts' | 'js' | 'sh' | 'bash';
  readonly code: string;
  /** Why it is not run, from `<!-- not run: ... -->` on the line before. */
  readonly notRun?: string;
}

const NOT_RUN = /^<!-- not run: (\S.*\S) -->$/;
const CONTINUES = '<!-- continues the block above -->';

/** The code blocks of one markdown file, a block that continues another joined to it. */
function codeBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let at = 0; at < lines.length; at++) {
    const open = /^```(\S*)\s*$/.exec(lines[at]!);
    if (!open) continue;
    const end = lines.indexOf('```', at + 1);
    if (end < 0) throw new Error(`${file}:${at + 1}: a code block without its closing fence`);
    const code = lines.slice(at + 1, end).join('\n') + '\n';
    const lang = open[1]!;
    let before = at - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const note = lines[before]?.trim() ?? '';
    const where = `${file}:${at + 1}`;
    at = end;
    if (lang !== 'ts' && lang !== 'js' && lang !== 'sh' && lang !== 'bash') continue;
    if (note === CONTINUES) {
      const previous = blocks.pop();
      if (previous?.lang !== lang) throw new Error(`${where}: continues no ${lang} block`);
      blocks.push({ ...previous, code: previous.code + code });
      continue;
    }
    const notRun = NOT_RUN.exec(note)?.[1];
    blocks.push({ where, lang, code, ...(notRun ? { notRun } : {}) });
  }
  return blocks;
}

const files = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const blocks = files.flatMap(codeBlocks);
const scripts = blocks.filter((block) => block.lang === 'ts' || block.lang === 'js');
const shells = blocks.filter((block) => block.lang === 'sh' || block.lang === 'bash');

const handle = useEmulator();
// Inside the repository so imports by package name resolve through node_modules as in a user's project.
const dir = join(ROOT, 'node_modules', '.cache', `doc-code-blocks-${process.pid}`);
afterAll(() => rm(dir, { recursive: true, force: true }));
const run = promisify(execFile);

/** The file name a block is written to: `README.md-123.mts`. */
const fileOf = (block: CodeBlock) => `${block.where.replace(/[/:]/g, '-')}.${block.lang === 'ts' ? 'mts' : 'mjs'}`;

/**
 * Preloaded into each TypeScript block's process: requests to Replicate go to the emulator instead
 * (through undici's global dispatcher, which the package's client uses), and a request to any other
 * origin fails, so a block cannot pass by reaching the network.
 */
const PRELOAD = `
const key = Symbol.for('undici.globalDispatcher.1');
void globalThis.Headers;
const original = globalThis[key];
const emulator = new URL(process.env.EMULATOR_URL).origin;
const dispatcher = Object.create(original);
dispatcher.dispatch = (options, handler) => {
  const origin = String(options.origin).replace(/\\/$/, '');
  if (origin === 'https://api.replicate.com') return original.dispatch({ ...options, origin: emulator }, handler);
  if (origin !== emulator) throw new Error('doc-code-blocks: a request to ' + origin + ', not the emulator');
  return original.dispatch(options, handler);
};
globalThis[key] = dispatcher;
`;

test('the documents have code blocks to check', () => {
  expect(scripts.length).toBeGreaterThan(5);
  expect(shells.length).toBeGreaterThan(5);
});

test('every TypeScript and JavaScript block type-checks against the built package', async () => {
  await mkdir(dir, { recursive: true });
  for (const block of scripts) await writeFile(join(dir, fileOf(block)), block.code);
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const flags = ['--noEmit', '--strict', '--module', 'nodenext', '--target', 'es2022', '--skipLibCheck'];
  const more = ['--resolveJsonModule', '--allowJs', '--checkJs', '--types', 'node'];
  try {
    execFileSync(process.execPath, [tsc, ...flags, ...more, ...scripts.map(fileOf)], { cwd: dir, encoding: 'utf8' });
  } catch (error) {
    // tsc's report names the file (README.md-123.mts: the block at README.md:123) and the line in the block.
    throw new Error(String((error as { stdout?: string }).stdout || error));
  }
});

describe('every TypeScript and JavaScript block runs against the emulator', () => {
  test.each(scripts.filter((block) => !block.notRun).map((block) => [block.where, block] as const))(
    '%s',
    async (_where, block) => {
      await mkdir(join(dir, 'run'), { recursive: true });
      await writeFile(join(dir, 'preload.mjs'), PRELOAD);
      const { outputText } = ts.transpileModule(block.code, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      const file = join(dir, 'run', fileOf(block).replace(/\.mts$/, '.mjs'));
      await writeFile(file, outputText);
      const env = { ...process.env, REPLICATE_API_TOKEN: TOKEN, EMULATOR_URL: handle.emulator.url };
      const { stdout, stderr } = await run(process.execPath, ['--import', join(dir, 'preload.mjs'), file], {
        cwd: join(dir, 'run'),
        env,
        timeout: scaled(60_000),
      });
      // runBlock prints "error <message>", runGraph "<node> error <message>". Save Image refuses the
      // emulator's loopback image URLs by design (a host lists such an origin in save.allowedOrigins);
      // Replicate's are public, so that one refusal is the emulator's, not the example's.
      const errors = stdout.split('\n').filter((line) => /^(\S+ )?error /.test(line));
      expect(
        errors.filter((line) => !/^\S+ error http:\/\/127\.0\.0\.1:\d+\/\S+ is a private, loopback/.test(line)),
      ).toEqual([]);
      expect(stdout + stderr).not.toContain(TOKEN);
      // A block that runs a model reached the emulator, with the token.
      if (/runBlock\(|runGraph\(|client\.run\(/.test(block.code)) {
        const creates = handle.emulator.requests.filter((request) => request.method === 'POST');
        expect(creates.length).toBeGreaterThan(0);
      }
    },
    scaled(90_000),
  );
});

/**
 * The commands of a shell block when each is a plain `flux-blocks` command (comments and blank
 * lines aside, no `&`, `|`, `;`, redirects or other programs), else undefined: only those are run,
 * so a block can never install packages, start servers or touch the repository.
 */
function cliCommands(code: string): string[] | undefined {
  const commands = code
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const plain = commands.every(
    (line) => /^flux-blocks\s/.test(line) && !/[&|;<>`$]/.test(line.replace(/'[^']*'/g, '')),
  );
  return plain && commands.length > 0 ? commands : undefined;
}

describe('every shell block runs through the built CLI', () => {
  test.each(shells.filter((block) => !block.notRun).map((block) => [block.where, block] as const))(
    '%s',
    async (where, block) => {
      const commands = cliCommands(block.code);
      if (!commands) {
        throw new Error(
          `${where}: only plain flux-blocks commands are run here; put <!-- not run: <reason> --> on the line before it`,
        );
      }
      // `flux-blocks` is the built CLI; the working directory has the examples, as in a clone.
      const cwd = join(dir, `sh-${fileOf(block)}`);
      await mkdir(join(cwd, 'bin'), { recursive: true });
      await cp(join(ROOT, 'examples'), join(cwd, 'examples'), { recursive: true });
      const cli = join(ROOT, 'hosts', 'dist', 'cli', 'flux-blocks.js');
      await writeFile(join(cwd, 'bin', 'flux-blocks'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
      await chmod(join(cwd, 'bin', 'flux-blocks'), 0o755);
      // No token and no base URL: the CLI runs on its embedded emulator, with no network.
      const env = Object.assign(Object.create(null) as Record<string, string>, process.env);
      delete env.REPLICATE_API_TOKEN;
      delete env.REPLICATE_BASE_URL;
      env.PATH = `${join(cwd, 'bin')}:${process.env.PATH}`;
      for (const command of commands) {
        const child = spawnOwned('bash', ['-euo', 'pipefail', '-c', command], { cwd, env });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const [code] = (await once(child, 'close')) as [number | null];
        expect({ command, code, stderr: code === 0 ? '' : stderr }).toEqual({ command, code: 0, stderr: '' });
        expect(stdout).not.toMatch(/"output":\s*"error"/);
      }
    },
    scaled(90_000),
  );
});

test('a block that is not run says why, on the line before it', () => {
  const reasons = blocks.filter((block) => block.notRun).map((block) => block.notRun!);
  for (const reason of reasons) expect(reason.length).toBeGreaterThan(5);
});

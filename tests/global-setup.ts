// jest's globalSetup: the system services the suite needs are there before any test starts, with no
// test timeout around their install. This file is loaded outside jest's module system, so it imports
// node: modules only.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** A system service the suite starts itself (on a private socket or port) and how Debian provides it. */
export interface SystemService {
  /** What needs it, for the messages. */
  readonly usedBy: string;
  /** Debian's package name. */
  readonly aptPackage: string;
  /** True when it is installed. */
  readonly present: () => boolean;
}

/** Debian's Chromium, which playwright-core drives (Playwright's own browser download is out of reach). */
export const CHROMIUM = '/usr/bin/chromium';

/** What the suite needs: redis-server (the workers' tests) and Chromium (the studio's browser tests). */
export const SERVICES: readonly SystemService[] = [
  {
    usedBy: 'the worker tests',
    aptPackage: 'redis-server',
    present: () => spawnSync('redis-server', ['--version']).status === 0,
  },
  { usedBy: "the studio's browser tests", aptPackage: 'chromium', present: () => existsSync(CHROMIUM) },
];

/** The exact command that installs `packages` on Debian. */
export const installCommand = (packages: readonly string[]) =>
  `apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y ${packages.join(' ')}`;

/**
 * Installs the services of `services` that are missing, with one apt-get run, printing what it does,
 * when this process may (root, with apt-get); otherwise throws at once with the exact command to run.
 * Nothing is ever skipped for a missing service.
 * @throws {Error} naming the missing packages and the command, when they cannot be installed here.
 */
export function ensureServices(services: readonly SystemService[] = SERVICES, root = process.getuid?.() === 0): void {
  const missing = services.filter((service) => !service.present());
  if (missing.length === 0) return;
  const packages = missing.map((service) => service.aptPackage);
  const command = installCommand(packages);
  const needs = missing.map((service) => `${service.aptPackage} (${service.usedBy})`).join(' and ');
  if (!root || spawnSync('apt-get', ['--version']).status !== 0) {
    throw new Error(
      `The test suite needs ${needs}, which ${missing.length === 1 ? 'is' : 'are'} not installed. Install as root: sudo sh -c '${command}'`,
    );
  }
  console.log(`\nThe test suite needs ${needs}; installing: ${command}`);
  const options = { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } } as const;
  execFileSync('apt-get', ['update'], options);
  execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', ...packages], options);
  const still = missing.filter((service) => !service.present());
  if (still.length > 0)
    throw new Error(
      `apt-get ran but ${still.map((s) => s.aptPackage).join(', ')} is still missing; run: ${installCommand(still.map((s) => s.aptPackage))}`,
    );
}

/** The MCP Inspector's CLI, run by tests/mcp/inspector.test.ts through npx (it is not a dependency: it needs its own 110 MB). */
export const INSPECTOR = '@modelcontextprotocol/inspector@2.12.0';

/** Brings {@link INSPECTOR} into npm's cache (a no-op once there), so no test downloads it inside its timeout. */
export function fetchInspector(): void {
  const cached = spawnSync('npm', ['exec', '--yes', '--offline', `--package=${INSPECTOR}`, '--', 'true'], {
    stdio: 'ignore',
  });
  if (cached.status === 0) return;
  console.log(
    `\nFetching ${INSPECTOR} into npm's cache for the MCP Inspector test: npm exec --yes --package=${INSPECTOR} -- true`,
  );
  execFileSync('npm', ['exec', '--yes', `--package=${INSPECTOR}`, '--', 'true'], { stdio: 'inherit' });
}

export default function globalSetup(): void {
  ensureServices();
  fetchInspector();
}

import { execFileSync, fork } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { EmulatorOptions } from 'replicate-flux-emulator';
import { CLIENTS, WEBHOOK_CLIENT, type Client } from './clients.js';
import type { DriverJob, DriverReport } from './driver-process.js';
import type { EmulatorStats } from './emulator-process.js';
import { REPO_ROOT } from '../paths.js';

/**
 * `npm run bench [-- --only 1,2] [--repeat 9]`: our block against the official `replicate`
 * client (its sync-wait default and polling mode) and a raw-fetch floor, on the same emulator,
 * each (scenario, client) with a fresh emulator process and a fresh driver process. With
 * `--repeat n`, each scenario runs n rounds of all its clients in turn, and each figure is the
 * median of the n rounds (so a busy minute on a shared machine moves every client alike).
 * Prints a table and writes tools/bench/results.json. Figures are in docs/performance.md.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { only: { type: 'string' }, repeat: { type: 'string', default: '1' } } });
const only = values.only?.split(',');
const rounds = Number(values.repeat);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new Error(`--repeat: ${values.repeat} is not a whole number of rounds`);

interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly emulator: EmulatorOptions & { processingJitterMs?: number };
  readonly job: Omit<DriverJob, 'client' | 'url'>;
  readonly clients: readonly Client[];
}

const PREDICTION = (ms: number) => ({ startingMs: 100, processingMs: ms - 100 });
const SCENARIOS: Scenario[] = [
  {
    id: '1',
    title: 'one 2 s prediction inside the sync wait, 15 in a row',
    emulator: PREDICTION(2000),
    job: { count: 15, mode: 'sequential' },
    clients: CLIENTS,
  },
  {
    id: '2',
    title: '4-6 s predictions outlasting a 1 s sync wait, 40 at once',
    emulator: { ...PREDICTION(4000), processingJitterMs: 2000, maxSyncWaitSeconds: 1 },
    job: { count: 40, mode: 'parallel', spreadMs: 1000 },
    clients: ['flux-blocks', WEBHOOK_CLIENT, 'replicate (block)', 'replicate (poll)'],
  },
  {
    id: '3',
    title: '1000 predictions of 200 ms at once',
    emulator: { startingMs: 50, processingMs: 150 },
    job: { count: 1000, mode: 'parallel' },
    clients: CLIENTS,
  },
  {
    id: '4',
    title: "1000 predictions of 200 ms at once, Replicate's rate limits on",
    emulator: { startingMs: 50, processingMs: 150, rateLimits: true },
    job: { count: 1000, mode: 'parallel' },
    clients: ['flux-blocks', 'replicate (block)', 'replicate (poll)'],
  },
];

/** One forked process's first message, then its exit. */
function forked<T>(script: string, arg: string): { child: ReturnType<typeof fork>; first: Promise<T> } {
  const child = fork(join(HERE, script), [arg]);
  return { child, first: new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T))) };
}

const quantile = (values: number[], q: number) => {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

async function measure(scenario: Scenario, client: Client) {
  const emulator = forked<{ url: string }>('emulator-process.js', JSON.stringify(scenario.emulator));
  const { url } = await emulator.first;
  const driver = forked<DriverReport>('driver-process.js', JSON.stringify({ ...scenario.job, client, url }));
  const report = await driver.first;
  const stats = new Promise<EmulatorStats>((resolve) =>
    emulator.child.once('message', (m) => resolve(m as EmulatorStats)),
  );
  emulator.child.send('stats');
  const { predictions, createsSent, otherRequests, throttled } = await stats;
  emulator.child.send('close');
  const ok = report.runs.filter((r) => r.id !== undefined && predictions[r.id]);
  const round = (ms: number) => Math.round(ms * 10) / 10;
  // Time to result minus the prediction's own time from created to completed, by the emulator's clock.
  const overhead = ok.map((r) =>
    round(r.endedAt - r.startedAt - (predictions[r.id!]!.completedAt - predictions[r.id!]!.createdAt)),
  );
  const detection = ok.map((r) => round(r.endedAt - predictions[r.id!]!.completedAt));
  const count = report.runs.length;
  // Per prediction made (a sequential job's warm-up included), so 429'd creates count as extra requests.
  const made = Object.keys(predictions).length || 1;
  return {
    scenario: scenario.id,
    client,
    succeeded: ok.length,
    failed: count - ok.length,
    firstError: report.runs.find((r) => r.error)?.error,
    overheadMedianMs: quantile(overhead, 0.5),
    overheadP95Ms: quantile(overhead, 0.95),
    detectionMedianMs: quantile(detection, 0.5),
    detectionP95Ms: quantile(detection, 0.95),
    requestsPerPrediction: Math.round(((createsSent + otherRequests) / made) * 100) / 100,
    getsPerPrediction: Math.round((otherRequests / made) * 100) / 100,
    throttled429: throttled,
    wallSeconds:
      Math.round(
        (Math.max(...report.runs.map((r) => r.endedAt)) - Math.min(...report.runs.map((r) => r.startedAt))) / 100,
      ) / 10,
    cpuMs: report.cpuMs,
    peakRssMB: report.peakRssMB,
  };
}

/** Median wall time of `node args` over `n` runs, in ms. */
function medianStart(args: string[], n = 15): number {
  const times = Array.from({ length: n }, () => {
    const started = performance.now();
    execFileSync(process.execPath, args);
    return performance.now() - started;
  });
  return Math.round(quantile(times, 0.5));
}

type Row = Awaited<ReturnType<typeof measure>>;
const rows: Row[] = [];
for (const scenario of SCENARIOS.filter((s) => !only || only.includes(s.id))) {
  console.error(`scenario ${scenario.id}: ${scenario.title}`);
  const measured = new Map<Client, Row[]>(scenario.clients.map((client) => [client, []]));
  for (let round = 0; round < rounds; round++) {
    for (const client of scenario.clients) {
      const row = await measure(scenario, client);
      measured.get(client)!.push(row);
      console.error(
        `  ${client}: ${row.succeeded} ok, ${row.failed} failed, ${row.wallSeconds} s, ${row.cpuMs} ms CPU`,
      );
    }
  }
  rows.push(...[...measured.values()].map(medianRow));
}

/** The row of one (scenario, client) over its rounds: each figure the median of the rounds'. */
function medianRow(of: Row[]): Row {
  const median = (pick: (row: Row) => number) =>
    quantile(
      of.map(pick).filter((v) => !Number.isNaN(v)),
      0.5,
    );
  const numeric = Object.entries(of[0]!)
    .filter(([, v]) => typeof v === 'number')
    .map(([key]) => [key, median((row) => row[key as keyof Row] as number)]);
  return { ...of[0]!, ...Object.fromEntries(numeric), firstError: of.find((row) => row.firstError)?.firstError };
}

let coldStart: { bareNodeMs: number; packageMs: number; aboveBareMs: number } | undefined;
if (!only || only.includes('5')) {
  const entry = pathToFileURL(join(REPO_ROOT, 'dist', 'index.js')).href;
  const bareNodeMs = medianStart(['-e', '']);
  // Import the package, build the registry and generate every block's JSON Schemas.
  const packageMs = medianStart([
    '--input-type=module',
    '-e',
    `const m = await import(${JSON.stringify(entry)}); m.createRegistry().manifest();`,
  ]);
  coldStart = { bareNodeMs, packageMs, aboveBareMs: packageMs - bareNodeMs };
}

const machine = `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
const cell = (v: unknown) => (typeof v === 'number' ? (Number.isNaN(v) ? '-' : String(v)) : String(v ?? '-'));
const header = [
  '#',
  'client',
  'ok',
  'failed',
  'overhead p50',
  'p95',
  'detect p50',
  'p95',
  'req/pred',
  'GET/pred',
  '429s',
  'CPU ms',
  'RSS MB',
  'wall s',
];
const lines = rows.map((r) =>
  [
    r.scenario,
    r.client,
    r.succeeded,
    r.failed,
    r.overheadMedianMs,
    r.overheadP95Ms,
    r.detectionMedianMs,
    r.detectionP95Ms,
    r.requestsPerPrediction,
    r.getsPerPrediction,
    r.throttled429,
    r.cpuMs,
    r.peakRssMB,
    r.wallSeconds,
  ].map(cell),
);
console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
for (const line of lines) console.log(`| ${line.join(' | ')} |`);
if (coldStart)
  console.log(
    `\ncold start (5): bare node ${coldStart.bareNodeMs} ms, import + registry + every JSON Schema ${coldStart.packageMs} ms: ${coldStart.aboveBareMs} ms above bare node`,
  );
console.log(`\n${machine}`);
for (const r of rows.filter((row) => row.firstError))
  console.error(`scenario ${r.scenario} ${r.client}, first error: ${r.firstError}`);

await writeFile(
  join(REPO_ROOT, 'tools', 'bench', 'results.json'),
  `${JSON.stringify({ date: new Date().toISOString(), machine, rounds, scenarios: SCENARIOS.map(({ id, title }) => ({ id, title })), rows, coldStart }, null, 2)}\n`,
);

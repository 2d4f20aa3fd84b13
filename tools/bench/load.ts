import { fork } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ReplicateFluxAdvancedModelBlock as block } from 'replicate-flux-blocks/blocks/index.js';
import { runBlock } from 'replicate-flux-blocks/shared/framework/run-block.js';
import type { EmulatorStats } from './emulator-process.js';

/**
 * Load benchmark (issue 4): N runs of the Flux block at once against the emulator, in its own
 * process, with Replicate's documented rate limits on. Checks every run ends with a `result`
 * from a prediction of its own input, and reports wall time, 429s met, requests, and this
 * process's peak RSS and heap. Exits 1 when a run failed or crossed, or the peak RSS passed
 * the bound (default 300 MB; measured 213 MB for 1000 runs on a 2-core machine).
 *
 * `npm run bench:load -- [--runs 1000] [--prediction-ms 200] [--max-rss-mb 300]`
 */
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    'prediction-ms': { type: 'string', default: '200' },
    'max-rss-mb': { type: 'string', default: '300' },
  },
});
const runs = Number(values.runs);
const predictionMs = Number(values['prediction-ms']);
const maxRssMb = Number(values['max-rss-mb']);

const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'emulator-process.js'), [
  JSON.stringify({ startingMs: predictionMs / 4, processingMs: (predictionMs * 3) / 4, rateLimits: true }),
]);
const ask = <T>(message?: string) =>
  new Promise<T>((resolve) => {
    child.once('message', (answer) => resolve(answer as T));
    if (message) child.send(message);
  });
const { url } = await ask<{ url: string }>();

let peakRss = process.memoryUsage.rss();
let peakHeap = process.memoryUsage().heapUsed;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
}, 20);
const baselineRss = process.memoryUsage.rss();

const credentials = { provider: 'replicate', id: 'bench', type: 'api_key' } as const;
const context = { credentials: { apiKey: 'r8_bench_token_load_0001' }, runner: { baseUrl: url } };
const started = performance.now();
const outcomes = await Promise.all(
  Array.from({ length: runs }, async (_, i) => {
    const outputs: Array<readonly [string, unknown]> = [];
    for await (const output of runBlock(block, { credentials, prompt: `load run ${i}`, seed: i }, context))
      outputs.push(output);
    return outputs;
  }),
);
const wallMs = performance.now() - started;
clearInterval(sampler);

const stats = await ask<EmulatorStats>('stats');
child.send('close');
const errors = outcomes.filter((o) => o[0]?.[0] === 'error').map((o) => String(o[0]![1]));
// No cross-talk: each run's result is from a prediction of its own prompt, and yields its own seed.
const crossed = outcomes.filter((outputs, i) => {
  if (outputs[0]?.[0] !== 'result') return false;
  const id = /\/files\/([a-z2-7]+)\//.exec(String(outputs[0][1]))?.[1] ?? '';
  return stats.predictions[id]?.prompt !== `load run ${i}` || outputs.at(-1)?.[1] !== i;
}).length;

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const report = {
  runs,
  succeeded: runs - errors.length,
  failed: errors.length,
  crossTalk: crossed,
  predictionsCreated: stats.predictionsCreated,
  createsSent: stats.createsSent,
  throttled429: stats.throttled,
  otherRequests: stats.otherRequests,
  wallSeconds: Math.round(wallMs / 100) / 10,
  baselineRssMB: mb(baselineRss),
  peakRssMB: mb(Math.max(peakRss, process.resourceUsage().maxRSS * 1024)),
  peakHeapMB: mb(peakHeap),
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${mb(totalmem())} MB, Node ${process.version}`,
};
console.log(JSON.stringify(report, null, 2));
if (errors.length) console.error(`first errors:\n${[...new Set(errors)].slice(0, 5).join('\n')}`);
if (report.peakRssMB > maxRssMb) console.error(`peak RSS ${report.peakRssMB} MB is above the bound of ${maxRssMb} MB`);
process.exitCode = errors.length || crossed || stats.predictionsCreated !== runs || report.peakRssMB > maxRssMb ? 1 : 0;

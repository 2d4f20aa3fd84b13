import type Replicate from 'replicate';
import type { Client } from './clients.js';

/**
 * One client driving predictions, in a process of its own so its CPU time and peak RSS are its
 * own. Forked by tools/bench/run.ts with a {@link DriverJob} as JSON in argv; sends back a
 * {@link DriverReport}.
 */
export interface DriverJob {
  readonly client: Client;
  readonly url: string;
  readonly count: number;
  /**
   * `sequential`: one prediction after another, after one unmeasured warm-up (a long-lived
   * host); `parallel`: all at once, their starts spread evenly over `spreadMs`.
   */
  readonly mode: 'sequential' | 'parallel';
  readonly spreadMs?: number;
}

export interface DriverReport {
  /** Per prediction: start and result times (epoch ms, sub-ms precision), the prediction id, or the error. */
  readonly runs: Array<{
    readonly startedAt: number;
    readonly endedAt: number;
    readonly id?: string;
    readonly error?: string;
  }>;
  /** User + system CPU time of the whole process, in ms. */
  readonly cpuMs: number;
  readonly peakRssMB: number;
}

const MODEL = 'black-forest-labs/flux-schnell';
const TOKEN = 'r8_bench_token_0000000000000000000000';
const credentials = { provider: 'replicate', id: 'bench', type: 'api_key' } as const;
// What the block sends Flux Schnell for this input; the other clients send the same.
const modelInput = (i: number) => ({
  prompt: `bench prediction ${i}`,
  seed: i,
  aspect_ratio: '1:1',
  output_format: 'webp',
  output_quality: 80,
});
const idOf = (url: unknown) => /\/files\/([a-z2-7]+)\//.exec(String(url))?.[1];

async function predict(job: DriverJob, i: number): Promise<string | undefined> {
  switch (job.client) {
    case 'flux-blocks':
    case 'flux-blocks (webhook)': {
      const { block, runBlock } = flux!;
      const { prompt, seed } = modelInput(i);
      const runner = { baseUrl: job.url, ...(webhook && { webhook }) };
      for await (const [name, value] of runBlock(
        block,
        { credentials, prompt, seed },
        { credentials: { apiKey: TOKEN }, runner },
      )) {
        if (name === 'error') throw new Error(String(value));
        if (name === 'result') return idOf(value);
      }
      return undefined;
    }
    case 'replicate (block)':
    case 'replicate (poll)': {
      const wait = job.client === 'replicate (poll)' ? { mode: 'poll' as const } : undefined;
      const output = await official!.run(MODEL, { input: modelInput(i), ...(wait && { wait }) });
      return idOf((output as unknown[])[0]);
    }
    case 'raw fetch': {
      const response = await fetch(`${job.url}/models/${MODEL}/predictions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', Prefer: 'wait=60' },
        body: JSON.stringify({ input: modelInput(i) }),
      });
      const prediction = (await response.json()) as { status: string; output?: string[] };
      if (prediction.status !== 'succeeded') throw new Error(`raw fetch got ${response.status} ${prediction.status}`);
      return idOf(prediction.output?.[0]);
    }
  }
}

const job = JSON.parse(process.argv[2]!) as DriverJob;
// Each process loads only its own client's modules, so its peak RSS is that client's alone.
const flux = job.client.startsWith('flux-blocks')
  ? {
      block: (await import('replicate-flux-blocks/blocks/index.js')).ReplicateFluxAdvancedModelBlock,
      runBlock: (await import('replicate-flux-blocks/shared/framework/run-block.js')).runBlock,
    }
  : undefined;
const official: Replicate | undefined = job.client.startsWith('replicate')
  ? new (await import('replicate')).default({ auth: TOKEN, baseUrl: job.url, useFileOutput: false })
  : undefined;
// The webhook client's receiver listens in this process; the emulator (another process) delivers to it.
const receiver =
  job.client === 'flux-blocks (webhook)'
    ? (await import('replicate-flux-blocks/shared/replicate/webhooks.js')).createWebhookReceiver()
    : undefined;
const listening = await receiver?.listen(0);
const webhook = receiver && listening && { url: listening.url, receiver };
const cpuBefore = process.cpuUsage();
const now = () => performance.timeOrigin + performance.now();

async function measured(i: number): Promise<DriverReport['runs'][number]> {
  const startedAt = now();
  try {
    const id = await predict(job, i);
    return { startedAt, endedAt: now(), id };
  } catch (error) {
    return { startedAt, endedAt: now(), error: String(error instanceof Error ? error.message : error).slice(0, 200) };
  }
}

const runs: Array<DriverReport['runs'][number]> = [];
if (job.mode === 'sequential') {
  await measured(job.count);
  for (let i = 0; i < job.count; i++) runs.push(await measured(i));
} else {
  runs.push(
    ...(await Promise.all(
      Array.from({ length: job.count }, async (_, i) => {
        if (job.spreadMs) await new Promise((resolve) => setTimeout(resolve, (i / job.count) * job.spreadMs!));
        return measured(i);
      }),
    )),
  );
}
const cpu = process.cpuUsage(cpuBefore);
await listening?.close();
const report: DriverReport = {
  runs,
  cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
};
process.send!(report, () => process.disconnect());

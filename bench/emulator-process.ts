import { startEmulator, type EmulatorOptions } from '../emulator/index.js';

/**
 * The emulator in a process of its own, for benchmarks: its work is then not counted as the
 * client's. Started with `fork(dist/bench/emulator-process.js, [<EmulatorOptions as JSON>])`;
 * sends `{ url }` once listening, answers `'stats'` with {@link EmulatorStats}, stops on `'close'`.
 */
export interface EmulatorStats {
  /** Requests answered 429 by the rate limits. */
  readonly throttled: number;
  /** Create requests received, and predictions they made. */
  readonly createsSent: number;
  readonly predictionsCreated: number;
  /** Other API requests received (polls, cancels, lists), before this report's own. */
  readonly otherRequests: number;
  /** Prompt of each prediction made, by prediction id. */
  readonly prompts: Record<string, string>;
}

const options = JSON.parse(process.argv[2] ?? '{}') as EmulatorOptions;
const emulator = await startEmulator({ maxRecorded: 1_000_000, ...options });

process.on('message', async (message) => {
  if (message === 'close') {
    await emulator.close();
    process.disconnect();
    return;
  }
  if (message !== 'stats') return;
  const creates = emulator.requests.filter((r) => r.method === 'POST' && !r.path.endsWith('/cancel'));
  const made = creates.filter((r) => r.handledAs !== undefined && r.handledAs < 300);
  const otherRequests = emulator.requests.length - creates.length;
  const prompts: Record<string, string> = {};
  // The emulator does not record answers, so ask it for each prediction it made.
  const page = async (url: string): Promise<void> => {
    const response = await fetch(url, { headers: { Authorization: 'Bearer stats' } });
    const body = (await response.json()) as { results: Array<{ id: string; input: { prompt: string } }>; next: string | null };
    for (const p of body.results) prompts[p.id] = p.input.prompt;
    if (body.next) await page(body.next);
  };
  await page(`${emulator.url}/predictions`);
  const stats: EmulatorStats = {
    throttled: emulator.throttled,
    createsSent: creates.length,
    predictionsCreated: made.length,
    otherRequests,
    prompts,
  };
  process.send!(stats);
});
process.send!({ url: emulator.url });

import { startEmulator, type EmulatorOptions } from 'replicate-flux-emulator';

/**
 * The emulator in a process of its own, for benchmarks: its work is then not counted as the
 * client's. Started with `fork(tools/dist/tools/bench/emulator-process.js, [<EmulatorOptions as JSON>])`;
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
  /** Each prediction made, by id: its prompt, and when it was created and ended (epoch ms). */
  readonly predictions: Record<
    string,
    { readonly prompt: string; readonly createdAt: number; readonly completedAt: number }
  >;
}

/** Emulator options, plus `processingJitterMs`: each prediction runs up to that much longer, at random. */
const { processingJitterMs = 0, ...options } = JSON.parse(process.argv[2] ?? '{}') as EmulatorOptions & {
  processingJitterMs?: number;
};
const emulator = await startEmulator({
  maxRecorded: 1_000_000,
  ...options,
  plan: () =>
    processingJitterMs
      ? { processingMs: (options.processingMs ?? 1200) + Math.random() * processingJitterMs }
      : undefined,
});

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
  const predictions: EmulatorStats['predictions'] = {};
  // The emulator does not record answers, so ask it for each prediction it made.
  const page = async (url: string): Promise<void> => {
    const response = await fetch(url, { headers: { Authorization: 'Bearer stats' } });
    const body = (await response.json()) as {
      results: Array<{ id: string; input: { prompt: string }; created_at: string; completed_at?: string }>;
      next: string | null;
    };
    for (const p of body.results) {
      predictions[p.id] = {
        prompt: p.input.prompt,
        createdAt: Date.parse(p.created_at),
        completedAt: Date.parse(p.completed_at ?? ''),
      };
    }
    if (body.next) await page(body.next);
  };
  await page(`${emulator.url}/predictions`);
  const stats: EmulatorStats = {
    throttled: emulator.throttled,
    createsSent: creates.length,
    predictionsCreated: made.length,
    otherRequests,
    predictions,
  };
  process.send!(stats);
});
process.send!({ url: emulator.url });

import { describe, expect, test } from '@jest/globals';
import { abortOnceCreated, clientFor, useEmulator } from '../helpers.js';

const local = useEmulator({ startingMs: 10, processingMs: 2_000 });
const request = { model: 'black-forest-labs/flux-schnell', input: { prompt: 'a slow one' } };

describe("the host's abort reason reaches the message", () => {
  test.each([
    ['a string reason', 'interrupted (Ctrl-C)', /^The run was interrupted \(Ctrl-C\); prediction \w+ was canceled\./],
    [
      'an Error reason',
      new Error('interrupted (Ctrl-C)'),
      /^The run was interrupted \(Ctrl-C\); prediction \w+ was canceled\./,
    ],
    ['no reason', undefined, /^The run was stopped by the host; prediction \w+ was canceled\./],
  ])('%s, while running', async (_, reason, message) => {
    const { signal } = abortOnceCreated(local.emulator, reason);
    const error = await clientFor(local.emulator)
      .run(request, { signal })
      .catch((e: unknown) => e as { kind: string; message: string });
    expect(error.kind).toBe('host_aborted');
    expect(error.message).toMatch(message);
  });

  test("the host's AbortSignal.timeout is named as such", async () => {
    const signal = AbortSignal.timeout(1);
    await expect(clientFor(local.emulator).run(request, { signal })).rejects.toThrow(
      // Whether the create went out within 1 ms or not.
      /^The run was stopped by the host's timeout[;.]/,
    );
  });

  test('before it started', async () => {
    const controller = new AbortController();
    controller.abort('interrupted (Ctrl-C)');
    await expect(clientFor(local.emulator).run(request, { signal: controller.signal })).rejects.toThrow(
      /^The run was interrupted \(Ctrl-C\) before it started\./,
    );
  });
});

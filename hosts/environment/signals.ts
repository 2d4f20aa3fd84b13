/** The signals that stop a host process, with the exit status each ends it with (128 + its number). */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;

/** `SIGINT` (Ctrl-C) or `SIGTERM` (kill, Docker, systemd). */
export type StopSignal = keyof typeof STOP_SIGNALS;

/** How long a host has to end after the first signal, in ms. Docker sends SIGKILL after 10 s. */
export const DEFAULT_GRACE_MS = 8_000;

/**
 * Makes SIGINT and SIGTERM end the process, however busy it is. The first one calls `onStop`
 * with its name, where the host aborts its work and closes what it opened; should the process
 * still be running `graceMs` later (default 8,000 ms: a close that hangs), it exits with status
 * 130 (SIGINT) or 143 (SIGTERM), saying so on stderr. A second signal exits so at once.
 * @returns a function that stops listening, for commands that end on their own; the exit after
 *   `graceMs`, once armed, stays (it never keeps the process alive).
 */
export function onStopSignals(onStop: (signal: StopSignal) => void, graceMs = DEFAULT_GRACE_MS): () => void {
  let stopping = false;
  const handle = (name: NodeJS.Signals) => {
    const signal = name as StopSignal;
    if (stopping) process.exit(STOP_SIGNALS[signal]);
    stopping = true;
    setTimeout(() => {
      console.error(`flux-blocks: still running ${graceMs} ms after ${signal}; exiting`);
      process.exit(STOP_SIGNALS[signal]);
    }, graceMs).unref();
    onStop(signal);
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
  return () => {
    process.off('SIGINT', handle);
    process.off('SIGTERM', handle);
  };
}

/** Resolves with the first SIGINT or SIGTERM; see {@link onStopSignals} for what follows it. */
export function stopSignal(graceMs = DEFAULT_GRACE_MS): Promise<StopSignal> {
  return new Promise((resolve) => onStopSignals(resolve, graceMs));
}

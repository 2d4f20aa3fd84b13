import { createLogUpdate } from 'log-update';
import { isTerminal, type ProgressEvent } from 'replicate-flux-blocks/shared/replicate/types.js';

/** Shows predictions' progress on stderr. */
export interface ProgressDisplay {
  readonly onProgress: (event: ProgressEvent) => void;
  /** Leaves the last state on screen. */
  done(): void;
}

const line = (event: ProgressEvent) =>
  `prediction ${event.predictionId}: ${event.status}${event.percent === undefined ? '' : ` ${event.percent}%`}${event.message ? ` (${event.message})` : ''}`;

/**
 * Progress on stderr: on a terminal, one line per running prediction, updated in place; off a
 * terminal (a log file, a pipe), a plain line per change.
 */
export function progressDisplay(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  if (!stream.isTTY) return { onProgress: (event) => stream.write(`${line(event)}\n`), done: () => undefined };
  const render = createLogUpdate(stream);
  const running = new Map<string, string>();
  return {
    onProgress(event) {
      if (isTerminal(event)) {
        // An ended prediction's line is printed once, above the live ones.
        running.delete(event.predictionId);
        render.clear();
        stream.write(`${line(event)}\n`);
      } else {
        running.set(event.predictionId, line(event));
      }
      if (running.size) render([...running.values()].join('\n'));
    },
    done: () => render.done(),
  };
}

// A run's outputs as the results panel lists them: each saved image once, then the other values.
import type { RunEvent } from '../protocol.js';

export type Output = Extract<RunEvent, { type: 'output' }>;

/** An image file a run saved, with every output that gave it (`gen.result`, `save.path`). */
export interface SavedImage {
  readonly preview: string;
  readonly file?: string;
  readonly from: readonly string[];
}

/**
 * The images of a run, each file once (a result and Save Image's path of it are the same file,
 * named by its content), and the outputs that are no image, in order.
 */
export function resultsOf(outputs: readonly Output[]): { images: SavedImage[]; values: Output[] } {
  const images = new Map<string, { preview: string; file?: string; from: string[] }>();
  const values: Output[] = [];
  for (const output of outputs) {
    if (!output.preview) {
      values.push(output);
      continue;
    }
    const seen = images.get(output.preview);
    const from = `${output.node}.${output.output}`;
    if (seen) seen.from.push(from);
    else images.set(output.preview, { preview: output.preview, file: output.file, from: [from] });
  }
  return { images: [...images.values()], values };
}

/** A value as a line of the log: JSON, cut at 200 characters (data: URIs are long). */
export function short(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

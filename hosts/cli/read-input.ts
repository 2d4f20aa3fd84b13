import { createReadStream } from 'node:fs';
import { UsageError } from './flags.js';

/**
 * Largest JSON the CLI reads from a file or standard input (`--input @file`, `--input -`, the
 * graph of `run-graph`), in bytes: 10 MiB. A graph or input is far smaller; local images go by
 * path, not inline, and are read with their own limit.
 */
export const MAX_INPUT_BYTES = 10 * 1024 * 1024;

/**
 * Reads `source` (a file path, or a stream such as standard input) as UTF-8 text, stopping as
 * soon as it passes `maxBytes`, so `/dev/zero` or an endless pipe costs at most that much memory.
 * @param from how the usage error names the source, e.g. `--input @graph.json`.
 * @param maxBytes default {@link MAX_INPUT_BYTES}.
 * @throws {UsageError} `<from> is over the 10485760-byte (10 MiB) limit...` past the limit, or
 *   `<from>: cannot read the file (ENOENT)` when a file cannot be read.
 */
export async function readLimited(
  source: string | NodeJS.ReadableStream,
  from: string,
  maxBytes = MAX_INPUT_BYTES,
): Promise<string> {
  const stream = typeof source === 'string' ? createReadStream(source) : source;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      size += bytes.length;
      if (size > maxBytes) {
        // Stop reading: a pipe's writer gets EPIPE, and nothing more is buffered.
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
        throw new UsageError(
          `${from} is over the ${maxBytes}-byte (${maxBytes / (1024 * 1024)} MiB) limit of the JSON the CLI reads; pass a smaller JSON (images by path or URL, not inline)`,
        );
      }
      chunks.push(bytes);
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const { code, message } = error as NodeJS.ErrnoException;
    throw new UsageError(`${from}: cannot read ${typeof source === 'string' ? 'the file' : 'it'} (${code ?? message})`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The JSON given to `--input`: inline, `@path` (a file, relative to the working directory) or
 * `-` (standard input), so no input ever needs a long command line. Files and standard input
 * are read up to {@link MAX_INPUT_BYTES}.
 * @throws {UsageError} for JSON that cannot be read or parsed, or is over the limit.
 */
export async function readInput(flag: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<unknown> {
  let text = flag;
  let from = '--input';
  if (flag === '-') {
    from = '--input - (standard input)';
    text = await readLimited(stdin, from);
  } else if (flag.startsWith('@')) {
    from = `--input ${flag}`;
    text = await readLimited(flag.slice(1), from);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${from} is not valid JSON (${(error as Error).message})`);
  }
}

import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlockError } from '../core/errors.js';
import type { FetchedImage } from './fetch-image.js';

/**
 * Writes an image into `dir` (created when missing), named after its content: the first 16
 * hex digits of its sha256 and its extension, so saving the same image twice writes one file.
 * @returns the file's path (`dir` joined with the name).
 * @throws {BlockError} `write_failed`.
 */
export async function writeImage(image: FetchedImage, dir = 'out'): Promise<string> {
  const path = join(dir, `${createHash('sha256').update(image.bytes).digest('hex').slice(0, 16)}.${image.extension}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(path, image.bytes);
  } catch (error) {
    throw new BlockError(
      'write_failed',
      `Could not write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return path;
}

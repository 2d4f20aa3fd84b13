import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BlockError } from '../core/errors.js';
import type { FetchedImage } from './fetch-image.js';

/** The file name {@link writeImage} gives an image: the first 16 hex digits of its sha256, and its extension. */
export function imageFileName(image: FetchedImage): string {
  return `${createHash('sha256').update(image.bytes).digest('hex').slice(0, 16)}.${image.extension}`;
}

/**
 * Writes an image into `dir` (created when missing), named after its content: the first 16
 * hex digits of its sha256 and its extension, so saving the same image twice writes one file.
 * The file appears whole or not at all (written beside it, then renamed), so a reader never gets
 * it half-written while the same image is saved again (the studio serves files as they are saved).
 * @returns the file's path (`dir` joined with the name).
 * @throws {BlockError} `write_failed`.
 */
export async function writeImage(image: FetchedImage, dir = 'out'): Promise<string> {
  const path = join(dir, imageFileName(image));
  const partial = `${path}.${randomUUID()}.partial`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(partial, image.bytes);
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true }).catch(() => undefined); // the write's own error is the one to report
    throw new BlockError(
      'write_failed',
      `Could not write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  return path;
}

import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { BlockError } from '../core/errors.js';
import { fetchImage } from '../image/fetch-image.js';
import { FILE_LIMIT_TEXT, MAX_FILE_BYTES } from '../replicate/files.js';
import type { Block, LocalFilesOptions } from './block.js';
import { isImageInput } from './fields.js';
import { shapeOf } from './json-schema.js';

/** A value that is neither a URL nor a `data:` URI, and so names a local file. */
function isLocalPath(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.trim() !== '' &&
    !value.startsWith('data:') &&
    !/^[a-z][a-z\d+.-]*:\/\//i.test(value)
  );
}

/**
 * The input with each local file path in an image input (a field made with `imageUrl()`, or an
 * array of them) replaced by the file's image as a `data:` URI. The Replicate client then uploads
 * large ones through the Files API. Other values are left for the input schema to judge.
 * @throws {BlockError} `invalid_input` naming the field for a path outside `allowDir`, a missing
 *   file or one of {@link MAX_FILE_BYTES} bytes (100 MB) or more; `not_an_image` (from the image
 *   check) for a file that is no image.
 */
export async function readLocalImages(block: Block, input: unknown, files: LocalFilesOptions): Promise<unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const shape = shapeOf(block.inputSchema);
  const resolved: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const [field, value] of Object.entries(resolved)) {
    const kind = Object.hasOwn(shape, field) ? isImageInput(shape[field]!) : undefined;
    if (kind && isLocalPath(value)) resolved[field] = await dataUriOf(field, value, files);
    if (kind === 'many' && Array.isArray(value)) {
      resolved[field] = await Promise.all(
        value.map((item, i) => (isLocalPath(item) ? dataUriOf(`${field}.${i}`, item, files) : item)),
      );
    }
  }
  return resolved;
}

async function dataUriOf(field: string, path: string, { allowDir }: LocalFilesOptions): Promise<string> {
  const root = resolve(allowDir);
  const file = resolve(root, path.trim());
  const inside = relative(root, file);
  if (inside.startsWith('..') || isAbsolute(inside)) {
    throw new BlockError(
      'invalid_input',
      `${field}: the local file ${path} is outside ${root}, the only directory local images are read from`,
    );
  }
  const size = await stat(file).then(
    (s) => (s.isFile() ? s.size : -1),
    () => undefined,
  );
  if (size === undefined || size < 0)
    throw new BlockError(
      'invalid_input',
      `${field}: no file ${path} (looked for ${file}); give an http(s) URL, a data: URI or an image file`,
    );
  // Read only what Replicate's Files API would take.
  if (size >= MAX_FILE_BYTES)
    throw new BlockError('invalid_input', `${field}: ${path} is ${size} bytes; ${FILE_LIMIT_TEXT}`);
  const bytes = await readFile(file);
  const uri = `data:application/octet-stream;base64,${bytes.toString('base64')}`;
  // Only images leave the machine: a graph cannot send the host's other files anywhere.
  const image = await fetchImage(uri, { maxBytes: MAX_FILE_BYTES }).catch((error: unknown) => {
    throw error instanceof BlockError ? new BlockError(error.kind, `${field}: ${path}: ${error.detail}`) : error;
  });
  return `data:${image.contentType};base64,${bytes.toString('base64')}`;
}

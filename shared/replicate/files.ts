import { z } from 'zod';
import { dataUriProblem, dataUriSize, parseDataUri } from '../core/data-uri.js';
import { BlockError } from '../core/errors.js';

/**
 * Largest file Replicate takes inline as a `data:` URI, in bytes; larger ones go through the
 * Files API. Source: Replicate's docs on input files ("data URLs ... for files up to 256kb").
 */
export const MAX_DATA_URI_BYTES = 256 * 1024;

/** Largest file the Files API takes, in bytes. Source: the 413 of POST /v1/files in Replicate's OpenAPI spec. */
export const MAX_FILE_BYTES = 100_000_000;

export const fileSchema = z
  .object({
    id: z.string().min(1),
    name: z.string().optional(),
    content_type: z.string(),
    size: z.number().int(),
    urls: z.object({ get: z.string().url() }).passthrough(),
  })
  .passthrough();

/** A file on Replicate (Replicate API: `schemas_file_response`); only the fields read here are typed. */
export type ReplicateFile = z.infer<typeof fileSchema>;

/** Uploads bytes to the Files API and returns the file. */
export type Upload = (content: Blob, filename: string) => Promise<ReplicateFile>;

/**
 * The input with every `data:` URI over {@link MAX_DATA_URI_BYTES} (a top-level value, or an
 * item of a top-level array) uploaded through `upload` and replaced by its file URL
 * (`urls.get`), so the create request stays small; other values are kept as they are.
 * @throws {BlockError} `invalid_input` naming the field when a URI is over {@link MAX_FILE_BYTES}
 *   or cannot be decoded; the upload's own errors.
 */
export async function uploadLargeDataUris(
  input: Readonly<Record<string, unknown>>,
  upload: Upload,
): Promise<Readonly<Record<string, unknown>>> {
  // Most inputs hold no data: URI at all; they are sent as they are, with no await per field.
  if (
    !Object.values(input).some((value) =>
      [value].flat().some((item) => typeof item === 'string' && item.startsWith('data:')),
    )
  )
    return input;
  const sent: Record<string, unknown> = { ...input };
  for (const [field, value] of Object.entries(input)) {
    if (Array.isArray(value))
      sent[field] = await Promise.all(value.map((item, i) => uploadIfLarge(`${field}.${i}`, item, upload)));
    else sent[field] = await uploadIfLarge(field, value, upload);
  }
  return sent;
}

async function uploadIfLarge(field: string, value: unknown, upload: Upload): Promise<unknown> {
  if (typeof value !== 'string' || !value.startsWith('data:') || dataUriSize(value) <= MAX_DATA_URI_BYTES) return value;
  const size = dataUriSize(value);
  if (size > MAX_FILE_BYTES) {
    throw new BlockError(
      'invalid_input',
      `${field}: the data: URI holds ${size} bytes, over the ${MAX_FILE_BYTES}-byte limit of Replicate's Files API; pass a smaller image`,
    );
  }
  const problem = dataUriProblem(value);
  if (problem) throw new BlockError('invalid_input', `${field}: ${problem}`);
  const { mediaType, bytes } = parseDataUri(value);
  const extension = mediaType.split('/')[1]?.replace(/[^\w.+-]/g, '') || 'bin';
  const file = await upload(
    new Blob([new Uint8Array(bytes)], { type: mediaType }),
    `${field.replace(/\W/g, '-')}.${extension}`,
  );
  return file.urls.get;
}

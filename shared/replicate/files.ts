import { z } from 'zod';
import { dataUriProblem, dataUriSize, parseDataUri } from '../core/data-uri.js';
import { BlockError } from '../core/errors.js';
import { FILE_URL_BYTES, inputJsonBytes, isDataUri, MAX_INPUT_JSON_BYTES } from './input-size.js';

/**
 * Largest file Replicate takes inline as a `data:` URI, in bytes; larger ones go through the
 * Files API. Source: Replicate's docs on input files ("data URLs ... for files up to 256kb").
 */
export const MAX_DATA_URI_BYTES = 256 * 1024;

/**
 * The Files API takes files under this size, in bytes (100 MB): one of exactly this size is refused.
 * Source: the 413 of POST /v1/files in Replicate's OpenAPI spec ("Files must be less than 100MB in size").
 */
export const MAX_FILE_BYTES = 100_000_000;

/** The Files API's limit in the words of every refusal of a file too large for it. */
export const FILE_LIMIT_TEXT = `Replicate's Files API takes files under ${MAX_FILE_BYTES} bytes (100 MB)`;

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
 * (`urls.get`), so the create request stays small; and, should the smaller ones still take the
 * input over {@link MAX_INPUT_JSON_BYTES} (many inline images), those too, largest first, until
 * it fits. Other values are kept as they are.
 * @throws {BlockError} `invalid_input` naming the field when a URI holds {@link MAX_FILE_BYTES} or more
 *   or cannot be decoded; the upload's own errors.
 */
export async function uploadLargeDataUris(
  input: Readonly<Record<string, unknown>>,
  upload: Upload,
): Promise<Readonly<Record<string, unknown>>> {
  // Most inputs hold no data: URI at all; they are sent as they are, with no await per field.
  if (!Object.values(input).some((value) => [value].flat().some(isDataUri))) return input;
  const uploading = new Set<string>();
  // Each inline URI with how often it occurs, largest first: uploaded in that order while the input is too large.
  const inline = new Map<string, number>();
  for (const uri of Object.values(input).flat().filter(isDataUri)) {
    if (dataUriSize(uri) > MAX_DATA_URI_BYTES) uploading.add(uri);
    else inline.set(uri, (inline.get(uri) ?? 0) + 1);
  }
  let bytes = inputJsonBytes(input, (uri) => uploading.has(uri));
  for (const [uri, count] of [...inline].sort(([a], [b]) => b.length - a.length)) {
    if (bytes <= MAX_INPUT_JSON_BYTES) break;
    uploading.add(uri);
    bytes -= count * (Buffer.byteLength(JSON.stringify(uri)) - FILE_URL_BYTES - 2);
  }
  const sent: Record<string, unknown> = { ...input };
  const send = (field: string, value: unknown) =>
    isDataUri(value) && uploading.has(value) ? uploadDataUri(field, value, upload) : value;
  for (const [field, value] of Object.entries(input)) {
    if (Array.isArray(value)) sent[field] = await Promise.all(value.map((item, i) => send(`${field}.${i}`, item)));
    else sent[field] = await send(field, value);
  }
  return sent;
}

async function uploadDataUri(field: string, value: string, upload: Upload): Promise<string> {
  const size = dataUriSize(value);
  if (size >= MAX_FILE_BYTES) {
    throw new BlockError(
      'invalid_input',
      `${field}: the data: URI holds ${size} bytes; ${FILE_LIMIT_TEXT}; pass a smaller image`,
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

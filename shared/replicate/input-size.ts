/**
 * Largest model input a prediction is created with, in bytes of JSON (UTF-8): 1 MiB.
 * Replicate documents no limit on a create's body, but refuses large ones with 413 ("Replicate's
 * API enforces limits on the size of requests", replicate-python#135) and asks for files over
 * 256 KB as URLs. 1 MiB leaves ample room for prompts, lists and settings. `data:` URIs do not
 * count: the client uploads them through the Files API whenever they would take the create
 * over this limit (see `uploadLargeDataUris`) and sends their URL instead.
 */
export const MAX_INPUT_JSON_BYTES = 1024 * 1024;

/** At least the length of a Files API URL (`https://api.replicate.com/v1/files/<id>/download?...`), in bytes. */
export const FILE_URL_BYTES = 200;

/** Whether `value` is a `data:` URI the client may upload: a string starting with `data:`. */
export const isDataUri = (value: unknown): value is string => typeof value === 'string' && value.startsWith('data:');

/**
 * How many bytes of JSON `input` takes in a create's body, with each `data:` URI that `sentAsUrl`
 * picks (a top-level value or an item of a top-level array, where `uploadLargeDataUris` finds
 * them) counted as a file URL of {@link FILE_URL_BYTES}. Default: every such `data:` URI.
 */
export function inputJsonBytes(
  input: Readonly<Record<string, unknown>>,
  sentAsUrl: (value: string) => boolean = () => true,
): number {
  const url = 'u'.repeat(FILE_URL_BYTES);
  const sent = (value: unknown) => (isDataUri(value) && sentAsUrl(value) ? url : value);
  // A null-prototype object: a field named __proto__ stays a field.
  const copy = Object.create(null) as Record<string, unknown>;
  for (const [field, value] of Object.entries(input))
    copy[field] = Array.isArray(value) ? value.map(sent) : sent(value);
  return Buffer.byteLength(JSON.stringify(copy));
}

/**
 * Why `input` is too large to create a prediction with, or undefined when its JSON, `data:` URIs
 * counted as file URLs, fits {@link MAX_INPUT_JSON_BYTES}. The reason does not name the field:
 * callers do (`input: ...`).
 */
export function inputSizeProblem(input: Readonly<Record<string, unknown>>): string | undefined {
  const bytes = inputJsonBytes(input);
  if (bytes <= MAX_INPUT_JSON_BYTES) return undefined;
  return `${bytes} bytes of JSON, over the ${MAX_INPUT_JSON_BYTES}-byte (1 MiB) limit of a prediction's input; pass long text or files as URLs (data: URIs do not count: they are uploaded)`;
}

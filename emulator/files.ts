/** Where an emulated prediction's output files live: `/files/{prediction id}/out-{index}.{format}`. */
const OUTPUT_FILE = /^\/files\/([a-z2-7]+)\/out-(\d+)\.(webp|jpg|png)$/;

/** The URL of output file `index` of prediction `id`, under the emulator's origin (its base URL without `/v1`). */
export function outputFileUrl(baseUrl: string, id: string, index: number, format: string): string {
  return `${originOf(baseUrl)}/files/${id}/out-${index}.${format}`;
}

/** The prediction id and output index a path names, or undefined when it is no output file. */
export function parseOutputFile(path: string): { id: string; index: number } | undefined {
  const match = OUTPUT_FILE.exec(path);
  return match ? { id: match[1]!, index: Number(match[2]) } : undefined;
}

/** The output file an absolute URL names when it is one of this emulator's, else undefined. */
export function ownOutputFile(url: string, baseUrl: string): { id: string; index: number } | undefined {
  return url.startsWith(`${originOf(baseUrl)}/`) && URL.canParse(url)
    ? parseOutputFile(new URL(url).pathname)
    : undefined;
}

/** `http://127.0.0.1:N` of `http://127.0.0.1:N/v1`. */
export function originOf(baseUrl: string): string {
  return baseUrl.replace(/\/v1$/, '');
}

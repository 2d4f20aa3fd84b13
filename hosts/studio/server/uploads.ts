import { basename, join } from 'node:path';
import { fetchImage } from 'replicate-flux-blocks/shared/image/fetch-image.js';
import { writeImage } from 'replicate-flux-blocks/shared/image/write-image.js';
import { MAX_UPLOAD_BYTES, UPLOADS_FOLDER, type Upload } from '../protocol.js';

/**
 * Keeps an image the page sent (its bytes, at most {@link MAX_UPLOAD_BYTES}) in
 * `<outDir>/uploads/`, named after its content. The graph then names it by its path in the out
 * directory (`uploads/<sha>.png`), which runs read as a local file (`context.files.allowDir` is
 * the out directory), as the CLI reads a path: sent as a `data:` URI, through the Files API when large.
 * @throws {BlockError} `not_an_image` when the bytes are no jpeg, png, gif or webp.
 */
export async function saveUpload(bytes: Uint8Array, outDir: string): Promise<Upload> {
  // The same check as a local file's: only images are kept, and so only images leave the machine.
  const image = await fetchImage(`data:application/octet-stream;base64,${Buffer.from(bytes).toString('base64')}`, {
    maxBytes: MAX_UPLOAD_BYTES,
  });
  const path = await writeImage(image, join(outDir, UPLOADS_FOLDER));
  const name = `${UPLOADS_FOLDER}/${basename(path)}`;
  return { path: name, url: `/files/${name}`, bytes: bytes.byteLength };
}

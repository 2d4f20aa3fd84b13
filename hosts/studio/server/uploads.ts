import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fetchImage } from 'replicate-flux-blocks/shared/image/fetch-image.js';
import { imageFileName, writeImage } from 'replicate-flux-blocks/shared/image/write-image.js';
import { MAX_UPLOAD_BYTES, UPLOADS_FOLDER, type Upload } from '../protocol.js';

/** The uploads folder is full: the image is not kept. */
export class UploadsFull extends Error {
  override name = 'UploadsFull';
}

/** Bytes the files of `dir` hold (0 when it does not exist yet). */
async function folderBytes(dir: string): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(
    names.map((name) =>
      stat(join(dir, name)).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

/**
 * Keeps an image the page sent (its bytes, at most {@link MAX_UPLOAD_BYTES}) in
 * `<outDir>/uploads/`, named after its content. The graph then names it by its path in the out
 * directory (`uploads/<sha>.png`), which runs read as a local file (`context.files.allowDir` is
 * the out directory), as the CLI reads a path: sent as a `data:` URI, through the Files API when large.
 * @param maxFolderBytes The most the uploads folder may hold with this image (bytes).
 * @throws {BlockError} `not_an_image` when the bytes are no jpeg, png, gif or webp.
 * @throws {UploadsFull} when keeping the image would take the folder past `maxFolderBytes`.
 */
export async function saveUpload(bytes: Uint8Array, outDir: string, maxFolderBytes: number): Promise<Upload> {
  // The same check as a local file's: only images are kept, and so only images leave the machine.
  const image = await fetchImage(`data:application/octet-stream;base64,${Buffer.from(bytes).toString('base64')}`, {
    maxBytes: MAX_UPLOAD_BYTES,
  });
  const folder = join(outDir, UPLOADS_FOLDER);
  const kept = await stat(join(folder, imageFileName(image))).then(
    () => true,
    () => false,
  );
  const held = kept ? 0 : await folderBytes(folder);
  // The same image again is kept already: it adds nothing.
  if (!kept && held + image.bytes.length > maxFolderBytes)
    throw new UploadsFull(
      `The studio's uploads folder (${folder}) holds ${held} bytes, and keeping this image would pass its ${maxFolderBytes}-byte limit: delete files there that no graph needs, or give the image by URL`,
    );
  const path = await writeImage(image, folder);
  const name = `${UPLOADS_FOLDER}/${basename(path)}`;
  return { path: name, url: `/files/${name}`, bytes: bytes.byteLength };
}

import { zipSync } from 'fflate';
import pLimit from 'p-limit';
import { BlockError } from '../core/errors.js';
import { fetchImage } from '../image/fetch-image.js';
import type { ReplicateClient } from '../replicate/client.js';
import type { BlockContext } from './block.js';

/** Most training images zipped from a list: a LoRA is trained on 10-30; the trainer takes a zip of any size. */
export const MAX_TRAINING_IMAGES = 200;
/** Training images read at once. */
const READS_AT_ONCE = 8;

/**
 * The training images as one zip URL for a trainer's `input_images`: each source (an http(s)
 * URL, a `data:` URI or, where the host allows, a local file the host read into one) read by
 * `fetchImage` under the host's `save` rules (private addresses refused, size limit), 8 at a
 * time, zipped as `image-<n>.<ext>` (stored, not compressed: images are compressed already) and
 * uploaded through the Files API.
 * @returns the uploaded zip's `urls.get`.
 * @throws {BlockError} as `fetchImage`, naming `images.<n>`; as `ReplicateClient.uploadFile`
 *   (`invalid_input` at 100 MB or more).
 */
export async function zipTrainingImages(
  sources: readonly string[],
  client: ReplicateClient,
  context: BlockContext,
): Promise<string> {
  const limit = pLimit(READS_AT_ONCE);
  const images = await Promise.all(
    sources.map((source, i) =>
      limit(async () => {
        try {
          return await fetchImage(source, context.save, context.signal);
        } catch (error) {
          if (error instanceof BlockError) throw new BlockError(error.kind, `images.${i}: ${error.detail}`);
          throw error;
        }
      }),
    ),
  );
  // Names are ours (`image-<n>.<ext>`), never the user's, and the object has no prototype.
  const files = Object.create(null) as Record<string, Uint8Array>;
  images.forEach((image, i) => (files[`image-${i + 1}.${image.extension}`] = new Uint8Array(image.bytes)));
  const zip = zipSync(files, { level: 0 });
  const file = await client.uploadFile(new Blob([zip], { type: 'application/zip' }), 'training-images.zip', {
    signal: context.signal,
  });
  return file.urls.get;
}

import { imageSize } from 'image-size';
import { parseDataUri } from '../core/data-uri.js';

/** An image's size in px. */
export interface PixelSize {
  readonly width: number;
  readonly height: number;
}

/**
 * The pixel size of the image in a `data:` URI, read synchronously from its bytes (the format's
 * header, with the `image-size` package), so zod refinements can compare images before any
 * request; undefined for anything else (an http(s) URL, a payload that is not an image).
 */
export function dataUriPixelSize(uri: string): PixelSize | undefined {
  try {
    // Anything but a data: URI fails to parse.
    const { bytes } = parseDataUri(uri);
    // image-size reads through DataViews of `bytes.buffer`, past the end of the view: small
    // Buffers share Node's 8 KB pool, so a short or truncated payload would be read on into other
    // data (a 3-byte payload came out as a 12600x12857 TGA). A copy owns exactly its bytes.
    const own = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length ? bytes : new Uint8Array(bytes);
    const { width, height } = imageSize(own);
    return width && height ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}

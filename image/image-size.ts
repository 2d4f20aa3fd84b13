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
    const { width, height } = imageSize(parseDataUri(uri).bytes);
    return width && height ? { width, height } : undefined;
  } catch {
    return undefined;
  }
}

import { createHash } from 'node:crypto';
import sharp from 'sharp';

/** Image file formats the Flux models write (`output_format`). */
export type ImageFormat = 'webp' | 'jpg' | 'png';

/** What an emulated image looks like: format, size in px, quality 0-100 (jpg and webp), and what seeds its colours. */
export interface ImageSpec {
  readonly format: ImageFormat;
  readonly width: number;
  readonly height: number;
  readonly quality: number;
  readonly key: string;
}

/** An image's size in px. */
export interface Size {
  readonly width: number;
  readonly height: number;
}

const round16 = (n: number) => Math.max(16, Math.round(n / 16) * 16);

/**
 * Width and height in px for an aspect ratio (`"16:9"`, or a number: width / height) at about
 * `megapixels` million pixels, each a multiple of 16 as Flux produces. Unknown ratios give 1:1.
 */
export function imageSize(aspectRatio: string | number, megapixels = 1): Size {
  const [w, h] = typeof aspectRatio === 'number' ? [aspectRatio, 1] : aspectRatio.split(':').map(Number);
  const ratio = w && h ? w / h : 1;
  const area = megapixels * 1024 * 1024;
  return { width: round16(Math.sqrt(area * ratio)), height: round16(Math.sqrt(area / ratio)) };
}

// Flux Fill Pro's outpaint choices: how each grows the canvas (width, height factors).
const OUTPAINT: Record<string, (size: Size) => Size> = {
  'Zoom out 1.5x': ({ width, height }) => ({ width: width * 1.5, height: height * 1.5 }),
  'Zoom out 2x': ({ width, height }) => ({ width: width * 2, height: height * 2 }),
  'Make square': ({ width, height }) => ({ width: Math.max(width, height), height: Math.max(width, height) }),
  'Left outpaint': ({ width, height }) => ({ width: width * 1.5, height }),
  'Right outpaint': ({ width, height }) => ({ width: width * 1.5, height }),
  'Top outpaint': ({ width, height }) => ({ width, height: height * 1.5 }),
  'Bottom outpaint': ({ width, height }) => ({ width, height: height * 1.5 }),
};

/**
 * The size of an output image, from the model's input (`param` gives a value, given or
 * defaulted) and the size of the first input image (`source`), when there is one:
 * - `aspect_ratio`: a ratio at about `megapixels` (or Flux 2's `resolution`) million pixels,
 *   1 by default; `match_input_image` takes the source's ratio; `custom` takes width/height.
 * - `megapixels: match_input` or `resolution: match_input_image`: the source's own size.
 * - Flux Fill (no `aspect_ratio`): the source's ratio; Fill Pro keeps the source's size and
 *   grows it by its `outpaint` choice.
 */
export function outputSize(param: (name: string) => unknown, source: Size | undefined): Size {
  const outpaint = param('outpaint');
  if (outpaint !== undefined && source) {
    const grown = (OUTPAINT[String(outpaint)] ?? ((size: Size) => size))(source);
    return { width: round16(grown.width), height: round16(grown.height) };
  }
  const scale = String(param('megapixels') ?? param('resolution') ?? '1');
  if (source && /^match_input/.test(scale)) return { width: round16(source.width), height: round16(source.height) };
  const megapixels = Number.parseFloat(scale) || 1;
  const ratio = String(param('aspect_ratio') ?? 'match_input_image');
  const width = Number(param('width'));
  const height = Number(param('height'));
  if (ratio === 'custom' && width && height) return { width: round16(width), height: round16(height) };
  return imageSize(ratio === 'match_input_image' && source ? source.width / source.height : ratio, megapixels);
}

/**
 * Encodes a placeholder picture (a gradient with rings, its colours drawn from `spec.key`, so
 * the same seed and prompt give the same picture) as real image bytes in `spec.format`.
 */
export async function renderImage(spec: ImageSpec): Promise<Buffer> {
  const digest = createHash('sha256').update(spec.key).digest();
  const colour = (offset: number) => [digest[offset]!, digest[offset + 1]!, digest[offset + 2]!] as const;
  const [from, to, ring] = [colour(0), colour(3), colour(6)];
  const { width, height } = spec;
  const pixels = Buffer.alloc(width * height * 3);
  const cx = (digest[9]! / 255) * width;
  const cy = (digest[10]! / 255) * height;
  const period = 12 + (digest[11]! % 40);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x / width + y / height) / 2;
      const wave = 0.5 + 0.5 * Math.sin(Math.hypot(x - cx, y - cy) / period);
      const i = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) {
        const base = from[c]! * (1 - t) + to[c]! * t;
        pixels[i + c] = base * (1 - wave * 0.35) + ring[c]! * wave * 0.35;
      }
    }
  }
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  // sharp's quality scale starts at 1; the models' starts at 0.
  const quality = Math.max(1, spec.quality);
  if (spec.format === 'png') return image.png().toBuffer();
  if (spec.format === 'jpg') return image.jpeg({ quality }).toBuffer();
  return image.webp({ quality }).toBuffer();
}

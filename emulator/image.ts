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

/**
 * Width and height in px for an aspect ratio (`"16:9"`) at about `megapixels` million pixels,
 * each a multiple of 16 as Flux produces. Unknown ratios (`custom`, `match_input_image`) give 1:1.
 */
export function imageSize(aspectRatio: string, megapixels = 1): { width: number; height: number } {
  const [w, h] = aspectRatio.split(':').map(Number);
  const ratio = w && h ? w / h : 1;
  const area = megapixels * 1024 * 1024;
  const round16 = (n: number) => Math.max(16, Math.round(n / 16) * 16);
  return { width: round16(Math.sqrt(area * ratio)), height: round16(Math.sqrt(area / ratio)) };
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

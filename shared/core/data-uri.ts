/** A `data:` URI's media type and payload. */
export interface DataUri {
  /** e.g. `image/png`; `text/plain` when the URI names none (RFC 2397). */
  readonly mediaType: string;
  readonly bytes: Buffer<ArrayBuffer>;
}

/**
 * Decodes a `data:` URI (RFC 2397): base64 or percent-encoded payload.
 * @throws Error when it has no comma before its payload or its percent-encoding is broken.
 */
export function parseDataUri(uri: string): DataUri {
  const comma = uri.indexOf(',');
  if (!uri.startsWith('data:') || comma < 0) throw new Error('the data: URI has no comma before its payload');
  const header = uri.slice(5, comma);
  const payload = uri.slice(comma + 1);
  const mediaType = header.split(';')[0]?.trim() || 'text/plain';
  if (/;base64$/i.test(header)) return { mediaType, bytes: Buffer.from(payload, 'base64') };
  try {
    return { mediaType, bytes: Buffer.from(decodeURIComponent(payload), 'latin1') };
  } catch {
    throw new Error("the data: URI's payload is not valid percent-encoding");
  }
}

/**
 * The payload size in bytes a `data:` URI decodes to, without decoding it: base64 less its padding;
 * percent-encoding counted as written (an escape counts 3).
 */
export function dataUriSize(uri: string): number {
  const comma = uri.indexOf(',');
  const payload = uri.length - comma - 1;
  if (!/;base64$/i.test(uri.slice(0, comma))) return payload;
  // Each '=' of padding stands for a byte that is not there.
  const padding = uri.endsWith('==') ? 2 : uri.endsWith('=') ? 1 : 0;
  return Math.floor((payload * 3) / 4) - padding;
}

/** A base64 `data:` URI of `bytes` with media type `mediaType` (e.g. `image/png`). */
export function toDataUri(bytes: Uint8Array, mediaType: string): string {
  return `data:${mediaType};base64,${Buffer.from(bytes).toString('base64')}`;
}

/**
 * Why a `data:` URI's payload cannot be decoded, or undefined when it can: no comma before the
 * payload, base64 with characters outside the base64 alphabets (standard or URL-safe, spaces
 * allowed), broken percent-encoding, or nothing at all. Checks without decoding base64.
 */
export function dataUriProblem(uri: string): string | undefined {
  const comma = uri.indexOf(',');
  if (!uri.startsWith('data:') || comma < 0) return 'the data: URI has no comma before its payload';
  const payload = uri.slice(comma + 1);
  if (/;base64$/i.test(uri.slice(0, comma))) {
    if (!/^[\w+/\s-]*(?:==?\s*)?$/.test(payload)) return "the data: URI's payload is not valid base64";
    // Fewer than two base64 digits make no byte.
    return payload.replace(/[\s=]/g, '').length < 2 ? 'the data: URI holds no data' : undefined;
  }
  try {
    decodeURIComponent(payload);
  } catch {
    return "the data: URI's payload is not valid percent-encoding";
  }
  return payload ? undefined : 'the data: URI holds no data';
}

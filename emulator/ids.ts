import { randomBytes } from 'node:crypto';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A 26-character lowercase base32 id, the shape of Replicate's prediction and file ids. */
export function newId(): string {
  return [...randomBytes(26)].map((b) => BASE32[b % 32]).join('');
}

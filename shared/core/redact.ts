/** Placeholder that replaces a secret wherever it would appear in text. */
export const REDACTED = '[REDACTED]';

/**
 * Removes `secret` from `text`. Secrets shorter than 6 characters are left alone: real
 * Replicate tokens are 40 characters, and masking a 1-letter test token would garble text.
 */
export function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 6 ? text.split(secret).join(REDACTED) : text;
}

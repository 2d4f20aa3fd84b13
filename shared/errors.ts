import type { ZodIssue } from 'zod';

/**
 * A failure a person can act on: bad input, a Replicate API error, a failed, canceled or
 * timed-out prediction. The block framework turns it into the block's `error` output.
 */
export class BlockError extends Error {
  override name = 'BlockError';
}

/** Placeholder that replaces a secret wherever it would appear in text. */
export const REDACTED = '[REDACTED]';

/**
 * Removes `secret` from `text`. Secrets shorter than 6 characters are left alone: real
 * Replicate tokens are 40 characters, and masking a 1-letter test token would garble text.
 */
export function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 6 ? text.split(secret).join(REDACTED) : text;
}

/** Dotted path of a zod issue, e.g. `credentials.provider`; `root` for the value itself. */
function issuePath(issue: ZodIssue, root: string): string {
  return issue.path.length ? issue.path.join('.') : root;
}

/** Why one zod issue failed, in the terms of the field (never echoes a string value). */
function issueReason(issue: ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.received === 'undefined') return 'is required';
      if (issue.expected === 'integer') return 'must be an integer';
      return `must be ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}, got ${issue.received}`;
    case 'too_big':
      if (issue.type === 'string') return `must be at most ${issue.maximum} characters`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    case 'too_small':
      if (issue.type === 'string') return issue.minimum === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
    case 'invalid_enum_value':
      return `must be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}`;
    case 'invalid_literal':
      return `must be ${JSON.stringify(issue.expected)}`;
    case 'unrecognized_keys':
      return `has unknown field(s) ${issue.keys.join(', ')}`;
    case 'not_finite':
      return 'must be a finite number';
    default:
      return issue.message;
  }
}

/**
 * Formats zod issues as one line naming every bad field and why, once per field, e.g.
 * `output_quality: must be <= 100; prompt: is required`. `root` names the value itself
 * (default `input`).
 */
export function formatIssues(issues: readonly ZodIssue[], root = 'input'): string {
  // One reason per field: the first, which is the field's own check before any cross-field one.
  const reasons = new Map<string, string>();
  for (const issue of issues) {
    const path = issuePath(issue, root);
    if (!reasons.has(path)) reasons.set(path, issueReason(issue));
  }
  return [...reasons].map(([path, reason]) => `${path}: ${reason}`).join('; ');
}

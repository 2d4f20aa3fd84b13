import type { ZodIssue } from 'zod';

/** Dotted path of a zod issue, e.g. `credentials.provider`; `root` for the value itself. */
function issuePath(issue: ZodIssue, root: string): string {
  return issue.path.length ? issue.path.join('.') : root;
}

/** Why one zod issue failed, in the terms of the field (never echoes a string value). */
function issueReason(issue: ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.received === 'undefined') return 'is required';
      if (issue.expected === 'integer') return 'must be an integer';
      const got = issue.received === 'nan' ? 'NaN' : issue.received;
      // zod names an enum's options as `'a' | 'b'` when the value is not even a string.
      if (issue.expected.includes(' | '))
        return `must be one of ${issue.expected
          .split(' | ')
          .map((o) => `"${o.replace(/^'|'$/g, '')}"`)
          .join(', ')}, got ${got}`;
      return `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}, got ${got}`;
    }
    case 'too_big':
      if (issue.type === 'string') return `must be at most ${issue.maximum} characters`;
      if (issue.type === 'array') return `must have at most ${issue.maximum} item(s)`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    case 'too_small':
      if (issue.type === 'string')
        return issue.minimum === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`;
      if (issue.type === 'array') return `must have at least ${issue.minimum} item(s)`;
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

import { z } from 'zod';

/**
 * Why `value` cannot be a base URL, or undefined when it can: it must be an http(s) URL without
 * a user name or password (`http://user:pass@host/`). Credentials in a URL would fail every
 * request (fetch refuses them) and end up in messages and logs; the reason never quotes the value.
 */
export function baseUrlProblem(value: string): string | undefined {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) return 'must be an http(s) URL';
  const url = new URL(value);
  if (url.username || url.password)
    return 'must not hold a user name or password (user:pass@host): pass the key as a key, not in the URL';
  return undefined;
}

/**
 * `value` for a message: any `user:pass@` before the host replaced by `***@`, whether or not it
 * parses as a URL.
 */
export function withoutUserinfo(value: string): string {
  return value.replace(/^([^/?#]*\/\/)?[^/?#]*@/, (_, scheme: string | undefined) => `${scheme ?? ''}***@`);
}

/** {@link baseUrlProblem} as a zod `superRefine` check, for the options and inputs that take a base URL. */
export function checkBaseUrl(value: string, ctx: z.RefinementCtx): void {
  const problem = baseUrlProblem(value);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
}

import { baseUrlProblem, withoutUserinfo } from 'replicate-flux-blocks/shared/core/http-url.js';
import { UsageError } from '../environment/usage-error.js';

export { UsageError };
export { parseFlags, type FlagValues } from '../environment/parse-flags.js';

/** `--timeout-ms`: a positive whole number of ms, at most 24 h (Replicate's longest Cancel-After). */
export function timeoutOf(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const timeoutMs = Number(flag);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 86_400_000) {
    throw new UsageError('--timeout-ms takes a whole number of milliseconds from 1 to 86400000 (24 h)');
  }
  return timeoutMs;
}

/** `--base-url`: an http(s) URL without `user:pass@`; the message never quotes a password. */
export function baseUrlOf(flag: string | undefined): string | undefined {
  if (flag === undefined) return undefined;
  const problem = baseUrlProblem(flag);
  if (problem) {
    const what =
      problem === 'must be an http(s) URL' ? 'takes an http(s) URL such as https://api.replicate.com/v1' : problem;
    throw new UsageError(`--base-url ${what}, not "${withoutUserinfo(flag)}"`);
  }
  return flag;
}

/** A positive whole number flag (`--max-predictions`, `--max-node-runs`, `--concurrency`). */
export function countOf(name: string, flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  const count = Number(flag);
  if (!Number.isInteger(count) || count < 1) throw new UsageError(`--${name} takes a whole number of at least 1`);
  return count;
}

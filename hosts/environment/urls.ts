import { baseUrlProblem, withoutUserinfo } from 'replicate-flux-blocks/shared/core/http-url.js';
import { UsageError } from './usage-error.js';

/**
 * A base URL a host was started with (`--base-url`, `REPLICATE_BASE_URL`), checked before
 * anything starts: an http(s) URL without `user:pass@`, which would fail every request and
 * reach messages, server instructions and logs.
 * @param from what gave it, for the message, e.g. `REPLICATE_BASE_URL`.
 * @throws {Error} a usage error naming `from`, which never quotes a password.
 */
export function checkedBaseUrl(value: string | undefined, from: string): string | undefined {
  if (value === undefined) return undefined;
  const problem = baseUrlProblem(value);
  if (problem) throw new UsageError(`${from} ${problem}, not "${withoutUserinfo(value)}"`);
  return value;
}

/**
 * The origins a provider's key may go to, from a comma-separated list (`OPENAI_COMPATIBLE_ORIGINS`,
 * `--openai-compatible-origins`): each entry an http(s) URL, taken as its origin
 * (`https://api.aggregator.example/v1` → `https://api.aggregator.example`), or `*` (any origin
 * on a public address). Empty entries are skipped.
 * @returns the origins in order, each once; undefined when `text` is.
 * @throws {Error} a usage error naming `from` and the entry (without any `user:pass@`).
 */
export function originsOf(text: string | undefined, from: string): string[] | undefined {
  if (text === undefined) return undefined;
  const origins = new Set<string>();
  for (const entry of text.split(',').map((e) => e.trim())) {
    if (!entry) continue;
    if (entry === '*') {
      origins.add(entry);
      continue;
    }
    const problem = baseUrlProblem(entry);
    if (problem)
      throw new UsageError(
        `${from}: each entry ${problem.replace('must be', 'must be *, or')}, not "${withoutUserinfo(entry)}"`,
      );
    origins.add(new URL(entry).origin);
  }
  return [...origins];
}

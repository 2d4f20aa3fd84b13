import { parseArgs, type ParseArgsConfig } from 'node:util';
import { baseUrlProblem, withoutUserinfo } from 'replicate-flux-blocks/shared/core/http-url.js';
import { UsageError } from '../environment/usage-error.js';

export { UsageError };

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flag values: strings, or booleans for boolean flags; absent when not given. */
export type FlagValues<O extends Options> = { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };

/**
 * Parses one command's flags with Node's parseArgs, strictly: an unknown flag, a flag without its
 * value (or with one it does not take) and positionals where none are taken are usage errors in our
 * words, each naming the flag and `flux-blocks <command> --help` (a flag given twice is refused for
 * every command before this, in flux-blocks.ts).
 * @throws {UsageError}
 */
export function parseFlags<O extends Options>(
  command: string,
  args: string[],
  options: O,
  positionals = false,
): { values: FlagValues<O>; positionals: string[] } {
  // A lenient pass first, to name the culprit ourselves: Node's messages quote oddly and advise `--`.
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  const help = `see flux-blocks ${command} --help`;
  for (const token of tokens) {
    if (token.kind === 'positional' && !positionals) {
      throw new UsageError(`${command}: unexpected argument "${token.value}"; ${help}`);
    }
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (!option) throw new UsageError(`${command}: unknown flag ${token.rawName}; ${help}`);
    if (option.type === 'boolean' && token.value !== undefined) {
      throw new UsageError(`${command}: ${token.rawName} takes no value; ${help}`);
    }
    // A value starting with a dash is another flag (a forgotten value), unless given as --flag=-x.
    const forgotten = token.value === undefined || (!token.inlineValue && /^-./.test(token.value));
    if (option.type === 'string' && forgotten) {
      throw new UsageError(
        `${command}: ${token.rawName} needs a value (${token.rawName}=VALUE if it starts with -); ${help}`,
      );
    }
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: positionals, strict: true });
  } catch (error) {
    throw new UsageError(`${command}: ${(error as Error).message}; ${help}`);
  }
  return { values: parsed.values as FlagValues<O>, positionals: parsed.positionals };
}

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

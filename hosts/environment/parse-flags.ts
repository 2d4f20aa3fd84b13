import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error.js';

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

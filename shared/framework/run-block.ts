import { BlockError } from '../core/errors.js';
import { formatIssues } from '../core/issues.js';
import { redact } from '../core/redact.js';
import type { z } from 'zod';
import { secretsOf, type Block, type BlockContext, type BlockOutput, type OutputShape } from './block.js';
import { readLocalImages } from './local-files.js';

/**
 * Runs a block as a host would: validates `rawInput` with the input schema (no `run`, so no
 * network call, when it is invalid), runs the block, checks every yielded value against the
 * output schema, and turns every failure into one `error` output.
 *
 * Never throws for bad input, network or model failures, or block bugs; yields
 * `[outputName, value]` pairs and stops after an `error`. Strings never contain the API token nor any other key in `context.credentials`.
 * The input is typed by the block's input schema (`z.input`), so a misspelt field of a known
 * block does not compile; hosts with input of unknown shape pass the block as a plain `Block`.
 */
export async function* runBlock<I extends z.ZodTypeAny, O extends OutputShape>(
  block: Block<I, O>,
  rawInput: z.input<I>,
  context: BlockContext = {},
): AsyncGenerator<BlockOutput<O>, void, undefined> {
  type Output = BlockOutput<O>;
  const secrets = secretsOf(context.credentials);
  const withoutSecrets = (value: unknown) =>
    typeof value === 'string' ? secrets.reduce((text, secret) => redact(text, secret), value) : value;
  let input: unknown = rawInput;
  if (context.files) {
    try {
      input = await readLocalImages(block, rawInput, context.files);
    } catch (error) {
      yield ['error', withoutSecrets(error instanceof Error ? error.message : String(error))] as Output;
      return;
    }
  }
  const parsed = block.inputSchema.safeParse(input);
  if (!parsed.success) {
    yield ['error', withoutSecrets(`Invalid input: ${formatIssues(parsed.error.issues)}`)] as Output;
    return;
  }
  try {
    for await (const [name, value] of block.run(parsed.data, context)) {
      const checked = block.outputSchema.shape[name]?.safeParse(value);
      if (!checked?.success) {
        const why = checked ? formatIssues(checked.error.issues, name) : 'not in the output schema';
        throw new Error(`${block.name} yielded an invalid "${name}" output (${why})`);
      }
      yield [name, withoutSecrets(checked.data)] as Output;
      if (name === 'error') return;
    }
  } catch (error) {
    const failure =
      error instanceof BlockError
        ? error
        : new BlockError('internal', `Internal error: ${error instanceof Error ? error.message : String(error)}`);
    yield ['error', withoutSecrets(failure.message)] as Output;
  }
}

import { randomInt } from 'node:crypto';
import type { RefinementCtx } from 'zod';
import type { BlockContext } from '../framework/block.js';
import { callOptions, replicateClient } from '../framework/replicate-client.js';
import { outputUrls } from '../replicate/prediction-run.js';
import { MODELS, type ModelRef } from './catalog.js';
import { checkModelInput } from './check-input.js';

/**
 * How a block runs one model: the model reference and, for each block input field the model
 * uses, the model's own parameter name (e.g. `steps` → `num_inference_steps`). Fields left out
 * are not sent to that model.
 */
export interface ModelChoice {
  readonly model: ModelRef;
  readonly params: Readonly<Record<string, string>>;
}

/** A block's model choices by the label a person picks (`Flux Kontext Pro`). */
export type ModelChoices = Readonly<Record<string, ModelChoice>>;

/** The model input for `values` (block field → value): mapped fields only, `null`/`undefined` left out. */
export function mapInput(choice: ModelChoice, values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const [field, param] of Object.entries(choice.params)) {
    if (values[field] !== undefined && values[field] !== null) input[param] = values[field];
  }
  return input;
}

/**
 * Which choices use a block field, for its description: `every model`, or e.g. `Flux Pro,
 * Flux Dev (as num_inference_steps)`; the parameter name is shown where it differs from the field's.
 */
export function usedBy(choices: ModelChoices, field: string): string {
  const using = Object.entries(choices).filter(([, choice]) => choice.params[field] !== undefined);
  if (using.length === Object.keys(choices).length && using.every(([, c]) => c.params[field] === field))
    return 'every model';
  return using
    .map(([label, choice]) => (choice.params[field] === field ? label : `${label} (as ${choice.params[field]})`))
    .join(', ');
}

/**
 * The end of a field's description that says which models use it: ` Used by every model.`, or
 * ` Used by A, B; not sent to the other models.`; with `refused`, ` Only for A, B: the other
 * models refuse it.` (fields {@link refineChoice} checks strictly).
 */
export function usedByNote(choices: ModelChoices, field: string, refused = false): string {
  const models = usedBy(choices, field);
  if (models === 'every model') return ' Used by every model.';
  return refused
    ? ` Only for ${models}: the other models refuse it.`
    : ` Used by ${models}; not sent to the other models.`;
}

/**
 * A zod `superRefine` check for a block with model choices, run on the model input the block
 * would send (so the model's own rules apply, {@link checkModelInput}): required parameters
 * present, each value in the chosen model's range or enum; and each `strict` field that is set
 * must be one the chosen model takes. The chosen model is named by the input field
 * `modelField`. Issues name the block field and the model (`guidance: must be <= 5 with Flux Pro`).
 */
export function refineChoice(choices: ModelChoices, modelField: string, strict: readonly string[] = []) {
  return (input: Record<string, unknown>, ctx: RefinementCtx): void => {
    const label = String(input[modelField]);
    const choice = choices[label]!;
    const fieldOf = Object.fromEntries(Object.entries(choice.params).map(([field, param]) => [param, field]));
    for (const { field: param, reason } of checkModelInput(MODELS[choice.model], mapInput(choice, input))) {
      ctx.addIssue({ code: 'custom', path: [fieldOf[param] ?? param], message: `${reason} with ${label}` });
    }
    for (const field of strict) {
      if (input[field] !== undefined && input[field] !== null && choice.params[field] === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: `${label} does not take it (only ${usedBy(choices, field)}); leave it empty`,
        });
      }
    }
  };
}

/**
 * Runs the chosen model with a block's input, as the image blocks' `run`: picks a random seed
 * (0 to 2^32-1) when `seed` is empty, maps the fields onto the model's parameters, runs the
 * prediction (`ReplicateClient.run`), and yields `['result', url]` per output image, in order,
 * then `['seed', n]`.
 * @throws {BlockError} as `ReplicateClient.run` and `outputUrls` do.
 */
export async function* runChoice(
  choice: ModelChoice,
  input: Readonly<Record<string, unknown>>,
  context: BlockContext,
): AsyncGenerator<readonly ['result', string] | readonly ['seed', number], void, undefined> {
  const seed = typeof input.seed === 'number' ? input.seed : randomInt(2 ** 32);
  const request = { model: choice.model, input: mapInput(choice, { ...input, seed }) };
  const prediction = await replicateClient(context).run(request, callOptions(context));
  for (const url of outputUrls(prediction)) yield ['result', url];
  yield ['seed', seed];
}

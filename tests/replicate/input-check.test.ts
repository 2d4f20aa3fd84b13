import { describe, expect, test } from '@jest/globals';
import { ReplicateModelBlock } from '../../blocks/index.js';
import { checkInput } from '../../shared/replicate/input-check.js';
import { resolveModel } from '../../shared/replicate/resolve-model.js';
import { trainVersion } from '../../shared/replicate/trainings.js';
import {
  clientFor,
  collect,
  contextFor,
  creates,
  CREDENTIALS,
  errorOf,
  names,
  TOKEN,
  useEmulator,
} from '../helpers.js';

// A model input checked against its version's openapi_schema before any prediction or training
// is created: which fields are named, and why.
const local = useEmulator();
const LORA = 'lucataco/flux-schnell-lora';
const LORA_VERSION = '2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574';

const run = (model: string, input: Record<string, unknown>) =>
  collect(ReplicateModelBlock, { credentials: CREDENTIALS, model, input }, contextFor(local.emulator));

/** A version id no other test uses (the compiled checks are kept per version id). */
let versions = 0;
const freshVersion = () => (++versions).toString(16).padStart(64, 'c');

/**
 * The emulator's model object for `ref` (LORA's), with `version` and `schemas` as its latest
 * version's id and `components.schemas`, answered to its next lookup.
 */
async function answerLookup(ref: string, version: string, schemas: Record<string, unknown>) {
  const response = await fetch(`${local.emulator.url}/models/${LORA}`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  const body = (await response.json()) as Record<string, unknown>;
  const [owner, name] = ref.split('/');
  const latest = { ...(body.latest_version as object), id: version, openapi_schema: { components: { schemas } } };
  local.emulator.inject({
    route: 'model',
    answer: { status: 200, body: { ...body, owner, name, latest_version: latest } },
  });
  local.emulator.requests.splice(0);
}

const object = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  properties,
  required,
});

describe('the refused fields are named', () => {
  test('every refused field, with the first reason for each, joined by "; ", and no create', async () => {
    // 4.5 is neither an integer nor <= 4: the type is the reason given.
    const message = errorOf(
      await run('black-forest-labs/flux-schnell', { prompt: 'x', num_outputs: 4.5, output_format: 'gif' }),
    );
    expect(message).toMatch(
      /\) refuses this input: input\.num_outputs: must be integer; input\.output_format: must be one of "webp", "jpg", "png"\. Fix the listed fields;/,
    );
    expect(creates(local.emulator).sent).toBe(0);
  });

  test('a field the schema does not allow is not an input of this model', async () => {
    await answerLookup(LORA, LORA_VERSION, {
      Input: { ...object({ prompt: { type: 'string' } }, ['prompt']), additionalProperties: false },
    });
    expect(errorOf(await run(LORA, { prompt: 'x', colour: 'red' }))).toMatch(
      /refuses this input: input\.colour: is not an input of this model\. Fix the listed fields;/,
    );
    expect(creates(local.emulator).sent).toBe(0);
  });

  test("a schema the check cannot read leaves the input to Replicate's own check: the run goes ahead", async () => {
    await answerLookup(LORA, LORA_VERSION, { Input: { type: 'objekt' } });
    expect(names(await run(LORA, { prompt: 'x' }))).toEqual(['result', 'output']);
    expect(creates(local.emulator).created).toBe(1);
  });
});

describe("each version's schemas are checked on their own", () => {
  test("a version's Input and TrainingInput, and another version's TrainingInput", async () => {
    const client = clientFor(local.emulator);
    const first = freshVersion();
    const schemas = {
      Input: object({ prompt: { type: 'string' } }, ['prompt']),
      TrainingInput: object({ input_images: { type: 'string' } }, ['input_images']),
    };
    await answerLookup('acme/trainer', first, schemas);
    await expect(resolveModel(client, 'acme/trainer', { input_images: 'x' })).rejects.toThrow(
      /refuses this input: input\.prompt: is required\./,
    );
    const train = (trainer: string, input: Record<string, unknown>) =>
      trainVersion(client, { destination: 'me/lora', trainer, input });
    await answerLookup('acme/trainer', first, schemas);
    await expect(train('acme/trainer', { prompt: 'x' })).rejects.toThrow(
      /refuses this input: input\.input_images: is required\./,
    );
    await answerLookup('acme/other-trainer', freshVersion(), {
      TrainingInput: object({ steps: { type: 'integer' } }, ['steps']),
    });
    await expect(train('acme/other-trainer', { input_images: 'x' })).rejects.toThrow(
      /refuses this input: input\.steps: is required\./,
    );
  });
});

describe('the compiled checks kept', () => {
  test('at most 64 versions: past that the oldest is dropped, and compiled again when it comes back', async () => {
    // Versions on Replicate never change; a schema changed under the same id shows whether the
    // check was kept (the old verdict) or compiled again (the new one).
    const refusing = { components: { schemas: { Input: object({ a: { type: 'string' } }, ['a']) } } };
    const passing = { components: { schemas: { Input: object({}) } } };
    const others = (count: number) => {
      for (let i = 0; i < count; i++) checkInput(freshVersion(), refusing, {});
    };
    others(64); // whatever the earlier tests kept is dropped
    const version = freshVersion();
    expect(checkInput(version, refusing, {})).toBe('input.a: is required');
    others(63);
    expect(checkInput(version, passing, {})).toBe('input.a: is required');
    others(1);
    expect(checkInput(version, passing, {})).toBeUndefined();
  });
});

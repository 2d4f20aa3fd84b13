import { BlockError } from '../core/errors.js';
import type { ReplicateClient } from './client.js';
import { checkInput } from './input-check.js';
import { VERSION_ID } from './types.js';

/**
 * What to run for a model reference given as `owner/name`, `owner/name:version` or a version
 * id. A version is run as given. For `owner/name` the model is looked up
 * (`ReplicateClient.getModel`): official models run by name, through their model path; others
 * by their latest version. When that version publishes its `openapi_schema`, `input` is checked
 * against it first, so a bad input fails before any prediction is created.
 * @returns the reference to pass to `ReplicateClient.run`.
 * @throws {BlockError} `rejected_input` naming each refused field (`input.num_outputs: must be
 *   <= 4`), `not_found` for a model without versions, and `getModel`'s kinds.
 */
export async function resolveModel(
  client: ReplicateClient,
  ref: string,
  input: Readonly<Record<string, unknown>>,
  signal?: AbortSignal,
): Promise<string> {
  if (ref.includes(':') || VERSION_ID.test(ref)) return ref;
  const model = await client.getModel(ref, { signal });
  const version = model.latest_version;
  if (version?.openapi_schema) {
    const problems = checkInput(version.id, version.openapi_schema, input);
    if (problems)
      throw new BlockError(
        'rejected_input',
        `Model ${ref} (version ${version.id.slice(0, 12)}) refuses this input: ${problems}`,
      );
  }
  if (model.is_official) return ref;
  if (!version) throw new BlockError('not_found', `Model ${ref} has no published version to run`);
  return `${ref}:${version.id}`;
}

import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { z } from 'zod';
import type { BlockContext } from './block.js';
import { BlockError, formatIssues, redact } from './errors.js';
import { connect, VERSION_ID } from './replicate.js';
import { toBlockError } from './transport.js';

const modelSchema = z
  .object({
    owner: z.string(),
    name: z.string(),
    is_official: z.boolean().optional(),
    latest_version: z.object({ id: z.string().min(1), openapi_schema: z.record(z.unknown()).nullish() }).passthrough().nullish(),
  })
  .passthrough();

/** A model as Replicate describes it (`schemas_model_response`); only the fields read here are typed. */
export type ReplicateModel = z.infer<typeof modelSchema>;

/**
 * Looks up a model (Replicate API: GET /v1/models/{owner}/{name}): whether it is official, and
 * its latest version with that version's `openapi_schema`. Retried and bounded like the
 * runner's polls.
 * @param model `owner/name`.
 * @throws {BlockError} `not_found` for an unknown model, and the runner's other kinds
 *   (unauthorized, unreachable, bad_response, ...). Messages never contain the token.
 */
export async function getModel(model: string, context: BlockContext): Promise<ReplicateModel> {
  const { settings, token, api } = connect(context);
  const path = `models/${model.split('/').map(encodeURIComponent).join('/')}`;
  let body: unknown;
  try {
    body = await api.http.get(path, { ...api.options('idempotent'), signal: context.signal }).json();
  } catch (error) {
    const failure = context.signal?.aborted ? new BlockError('host_aborted', 'The run was stopped by the host') : await toBlockError(error, settings.baseUrl);
    throw new BlockError(failure.kind, redact(failure.detail, token));
  }
  const parsed = modelSchema.safeParse(body);
  if (!parsed.success) {
    throw new BlockError('bad_response', `The Replicate API at ${settings.baseUrl} answered GET /${path} with JSON that is not a model (${formatIssues(parsed.error.issues, 'body')})`);
  }
  return parsed.data;
}

/**
 * What to run for a model reference given as `owner/name`, `owner/name:version` or a version
 * id. A version is run as given. For `owner/name` the model is looked up ({@link getModel}):
 * official models run by name, through their model path; others by their latest version. When
 * that version publishes its `openapi_schema`, `input` is checked against it first, so a bad
 * input fails before any prediction is created.
 * @returns the reference to pass to `runPrediction`.
 * @throws {BlockError} `rejected_input` naming each refused field (`input.num_outputs: must be
 *   <= 4`), `not_found` for a model without versions, and {@link getModel}'s kinds.
 */
export async function resolveModel(ref: string, input: Readonly<Record<string, unknown>>, context: BlockContext): Promise<string> {
  if (ref.includes(':') || VERSION_ID.test(ref)) return ref;
  const model = await getModel(ref, context);
  const version = model.latest_version;
  if (version?.openapi_schema) {
    const problems = checkInput(version.id, version.openapi_schema, input);
    if (problems) throw new BlockError('rejected_input', `Model ${ref} (version ${version.id.slice(0, 12)}) refuses this input: ${problems}`);
  }
  if (model.is_official) return ref;
  if (!version) throw new BlockError('not_found', `Model ${ref} has no published version to run`);
  return `${ref}:${version.id}`;
}

// ajv-formats is CommonJS whose typings describe only its `default`; require gives the plugin itself.
const addFormats = createRequire(import.meta.url)('ajv-formats') as (ajv: Ajv) => Ajv;
// Cog schemas carry OpenAPI keywords (`x-order`, `nullable`) that strict mode refuses.
const ajv = addFormats(new Ajv({ allErrors: true, strict: false }));
const validators = new Map<string, ValidateFunction | null>();
const MAX_VALIDATORS = 64;

/**
 * Checks a model input against a version's `openapi_schema` (its `components.schemas.Input`,
 * `$ref`s resolved within the document). Compiled validators are kept per version id.
 * @returns every refused field as `input.<field>: <why>`, joined with `; `, or undefined when
 *   the input passes or the schema has no usable `Input`.
 */
function checkInput(versionId: string, openapi: Record<string, unknown>, input: Readonly<Record<string, unknown>>): string | undefined {
  let validate = validators.get(versionId);
  if (validate === undefined) {
    const components = openapi.components as { schemas?: { Input?: unknown } } | undefined;
    try {
      validate = components?.schemas?.Input ? ajv.compile({ $ref: '#/components/schemas/Input', components }) : null;
    } catch {
      validate = null; // A schema ajv cannot read: Replicate's own check still applies.
    }
    if (validators.size >= MAX_VALIDATORS) validators.delete(validators.keys().next().value!);
    validators.set(versionId, validate);
  }
  if (!validate || validate(input)) return undefined;
  const reasons = new Map<string, string>();
  for (const error of validate.errors ?? []) {
    const [path, reason] = describe(error);
    if (!reasons.has(path)) reasons.set(path, reason);
  }
  return [...reasons].map(([path, reason]) => `${path}: ${reason}`).join('; ');
}

/** One ajv error as a field path (`input.seed`) and a reason in the terms the blocks use. */
function describe(error: ErrorObject): [string, string] {
  const path = `input${error.instancePath.replace(/\//g, '.')}`;
  switch (error.keyword) {
    case 'required':
      return [`${path}.${String(error.params.missingProperty)}`, 'is required'];
    case 'enum':
      return [path, `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`];
    case 'additionalProperties':
      return [`${path}.${String(error.params.additionalProperty)}`, 'is not an input of this model'];
    default:
      return [path, error.message ?? 'is invalid'];
  }
}

import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';

/**
 * ajv with its formats, loaded on the first check: about 4 MB of memory and its compile time
 * (measured), which hosts that never run a model by name should not carry.
 */
let loaded: Ajv | undefined;
function ajv(): Ajv {
  if (loaded) return loaded;
  // ajv and ajv-formats are CommonJS; ajv-formats' typings describe only its `default`, require gives the plugin itself.
  const require = createRequire(import.meta.url);
  const { Ajv: Validator } = require('ajv') as typeof import('ajv');
  const addFormats = require('ajv-formats') as (instance: Ajv) => Ajv;
  // Cog schemas carry OpenAPI keywords (`x-order`, `nullable`) that strict mode refuses.
  return (loaded = addFormats(new Validator({ allErrors: true, strict: false })));
}
const validators = new Map<string, ValidateFunction | null>();
const MAX_VALIDATORS = 64;

/**
 * Checks a model input against a version's `openapi_schema` (its `components.schemas.Input`,
 * or `TrainingInput` for a trainer's `train()` input, `$ref`s resolved within the document).
 * Compiled validators are kept per version id and schema.
 * @returns every refused field as `input.<field>: <why>`, joined with `; `, or undefined when
 *   the input passes or the schema has no usable `Input`.
 */
export function checkInput(
  versionId: string,
  openapi: Record<string, unknown>,
  input: Readonly<Record<string, unknown>>,
  schema: 'Input' | 'TrainingInput' = 'Input',
): string | undefined {
  const key = schema === 'Input' ? versionId : `${schema}:${versionId}`;
  let validate = validators.get(key);
  if (validate === undefined) {
    const components = openapi.components as { schemas?: Record<string, unknown> } | undefined;
    try {
      validate =
        components?.schemas && Object.hasOwn(components.schemas, schema)
          ? ajv().compile({ $ref: `#/components/schemas/${schema}`, components })
          : null;
    } catch {
      validate = null; // A schema ajv cannot read: Replicate's own check still applies.
    }
    if (validators.size >= MAX_VALIDATORS) validators.delete(validators.keys().next().value!);
    validators.set(key, validate);
  }
  if (!validate || validate(input)) return undefined;
  const reasons = new Map<string, string>();
  // ajv sets errors whenever a check fails.
  for (const error of validate.errors!) {
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
      return [
        path,
        `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      ];
    case 'additionalProperties':
      return [`${path}.${String(error.params.additionalProperty)}`, 'is not an input of this model'];
    default:
      // ajv gives every error a message unless its option `messages` is false.
      return [path, error.message!];
  }
}

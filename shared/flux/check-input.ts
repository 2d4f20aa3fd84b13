import type { ModelSpec, ParamSpec } from './catalog.js';

/**
 * Which rule a value broke, named as Replicate's input validation names them in a 422's
 * `invalid_fields[].type` (its JSON Schema validator's error types), or `invalid` for a
 * model's own rule across parameters.
 */
export type ProblemType =
  | 'required'
  | 'additional_property_not_allowed'
  | 'invalid_type'
  | 'enum'
  | 'number_gte'
  | 'number_lte'
  | 'format'
  | 'invalid';

/** Why a value is not valid for a parameter: the rule, the bound or type it expected, and a phrase for people (`must be <= 5`). */
export interface ParamProblem {
  readonly type: ProblemType;
  /** The bound (`number_gte`, `number_lte`), the choices (`enum`), the type (`invalid_type`) or the format (`format`). */
  readonly expected?: number | string | readonly string[];
  readonly reason: string;
}

/**
 * Why `value` is not valid for `spec`, or undefined when it is. Mirrors the checks Replicate
 * applies from a version's input schema.
 */
export function checkParam(spec: ParamSpec, value: unknown): ParamProblem | undefined {
  const wrongType = (expected: string, reason: string): ParamProblem => ({ type: 'invalid_type', expected, reason });
  if (spec.type === 'array') {
    if (!Array.isArray(value)) return wrongType('array', 'must be an array');
    const bad = spec.items && value.findIndex((item) => typeof item !== 'string' || !URL.canParse(item));
    return bad !== undefined && bad >= 0
      ? { type: 'format', expected: 'uri', reason: `item ${bad} must be a URI` }
      : undefined;
  }
  if (spec.type === 'integer' && !Number.isInteger(value)) return wrongType('integer', 'must be an integer');
  if (spec.type === 'number' && (typeof value !== 'number' || !Number.isFinite(value)))
    return wrongType('number', 'must be a number');
  if ((spec.type === 'string' || spec.type === 'boolean') && typeof value !== spec.type)
    return wrongType(spec.type, `must be a ${spec.type}`);
  if (spec.enum && !spec.enum.includes(value as string)) {
    return {
      type: 'enum',
      expected: spec.enum,
      reason: `must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(', ')}`,
    };
  }
  if (typeof value === 'number') {
    if (spec.minimum !== undefined && value < spec.minimum)
      return { type: 'number_gte', expected: spec.minimum, reason: `must be >= ${spec.minimum}` };
    if (spec.maximum !== undefined && value > spec.maximum)
      return { type: 'number_lte', expected: spec.maximum, reason: `must be <= ${spec.maximum}` };
  }
  if (spec.format === 'uri' && !URL.canParse(value as string))
    return { type: 'format', expected: 'uri', reason: 'must be a URI' };
  return undefined;
}

/** One reason a model input was refused: the parameter and the problem with it. */
export interface InputProblem extends ParamProblem {
  readonly field: string;
}

/**
 * Checks a whole model input: required parameters present, no parameter the model does not
 * take, each value valid, and the model's own rules across parameters (`imageSafetyMax`).
 * Returns every problem found (empty when the input is valid).
 */
export function checkModelInput(model: ModelSpec, input: Readonly<Record<string, unknown>>): InputProblem[] {
  const problems: InputProblem[] = [];
  for (const [field, spec] of Object.entries(model.inputs)) {
    if (spec.required && input[field] === undefined) problems.push({ field, type: 'required', reason: 'is required' });
  }
  for (const [field, value] of Object.entries(input)) {
    const spec = Object.hasOwn(model.inputs, field) ? model.inputs[field] : undefined;
    const problem = spec
      ? checkParam(spec, value)
      : { type: 'additional_property_not_allowed' as const, reason: 'is not an input of this model' };
    if (problem) problems.push({ field, ...problem });
  }
  const tolerance = input.safety_tolerance;
  if (
    model.imageSafetyMax !== undefined &&
    input.input_image !== undefined &&
    typeof tolerance === 'number' &&
    tolerance > model.imageSafetyMax
  ) {
    problems.push({
      field: 'safety_tolerance',
      type: 'invalid',
      reason: `must be <= ${model.imageSafetyMax} when editing an input_image`,
    });
  }
  return problems;
}

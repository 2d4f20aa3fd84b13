import type { ModelSpec, ParamSpec } from './catalog.js';

/**
 * Why `value` is not valid for `spec`, as a phrase (`must be <= 5`), or undefined when it is.
 * Mirrors the checks Replicate applies from a version's input schema.
 */
export function checkParam(spec: ParamSpec, value: unknown): string | undefined {
  if (spec.type === 'array') {
    if (!Array.isArray(value)) return 'must be an array';
    const bad = spec.items && value.findIndex((item) => typeof item !== 'string' || !URL.canParse(item));
    return bad !== undefined && bad >= 0 ? `item ${bad} must be a URI` : undefined;
  }
  if (spec.type === 'integer' && !Number.isInteger(value)) return 'must be an integer';
  if (spec.type === 'number' && (typeof value !== 'number' || !Number.isFinite(value))) return 'must be a number';
  if ((spec.type === 'string' || spec.type === 'boolean') && typeof value !== spec.type) return `must be a ${spec.type}`;
  if (spec.enum && !spec.enum.includes(value as string)) {
    return `must be one of ${spec.enum.map((e) => JSON.stringify(e)).join(', ')}`;
  }
  if (typeof value === 'number') {
    if (spec.minimum !== undefined && value < spec.minimum) return `must be >= ${spec.minimum}`;
    if (spec.maximum !== undefined && value > spec.maximum) return `must be <= ${spec.maximum}`;
  }
  if (spec.format === 'uri' && !URL.canParse(value as string)) return 'must be a URI';
  return undefined;
}

/** One reason a model input was refused: the parameter, a Replicate-style type, and why (`must be <= 5`). */
export interface InputProblem {
  readonly field: string;
  readonly type: 'required' | 'additional_property' | 'invalid';
  readonly reason: string;
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
    const spec = model.inputs[field];
    const reason = spec ? checkParam(spec, value) : 'is not an input of this model';
    if (reason) problems.push({ field, type: spec ? 'invalid' : 'additional_property', reason });
  }
  const tolerance = input.safety_tolerance;
  if (model.imageSafetyMax !== undefined && input.input_image !== undefined && typeof tolerance === 'number' && tolerance > model.imageSafetyMax) {
    problems.push({ field: 'safety_tolerance', type: 'invalid', reason: `must be <= ${model.imageSafetyMax} when editing an input_image` });
  }
  return problems;
}

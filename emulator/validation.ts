import type { InputProblem } from 'replicate-flux-blocks/shared/flux/check-input.js';
import type { InvalidField } from './http.js';

/**
 * A catalog check's problems as Replicate's 422 `invalid_fields`: `input.`-prefixed fields, the
 * validator's error types, and its wording (`Must be less than or equal to 4`), which names the
 * field only for some types. Source: Replicate's 422 answers as its clients' issue threads
 * quote them.
 */
export function invalidFields(problems: readonly InputProblem[]): InvalidField[] {
  return problems.map((problem) => ({
    field: `input.${problem.field}`,
    type: problem.type,
    description: describe(problem),
  }));
}

function describe({ field, type, expected, reason }: InputProblem): string {
  switch (type) {
    case 'required':
      return `${field} is required`;
    case 'additional_property_not_allowed':
      return `Additional property ${field} is not allowed`;
    case 'invalid_type':
      return `Invalid type. Expected: ${String(expected)}`;
    case 'enum':
      return `${field} must be one of the following: ${(expected as readonly string[]).map((e) => JSON.stringify(e)).join(', ')}`;
    case 'number_gte':
      return `Must be greater than or equal to ${String(expected)}`;
    case 'number_lte':
      return `Must be less than or equal to ${String(expected)}`;
    case 'format':
      return `Does not match format '${String(expected)}'`;
    default:
      return `${field} ${reason}`;
  }
}

/** One generated node property, as far as the input builder reads it. */
export interface PropertyShape {
  readonly name: string;
  readonly type: string;
  readonly required?: boolean;
  readonly displayOptions?: { readonly show?: { readonly operation?: readonly string[] } };
}

/** Largest JSON text a `json` parameter may hold, in characters (1 MiB); the block checks the rest. */
export const MAX_JSON_CHARS = 1 << 20;

/**
 * A block's input from the node's parameters for one item: every property shown for `operation`
 * (`read(name)` gives its value), the `additionalFields` collection spread in, `json` parameters
 * parsed, and optional fields left empty (`''`) left out so the block's defaults apply. The
 * result is plain JSON in an object without a prototype (field names come from the schema, but
 * collection keys come from the workflow). The block's own schema checks it afterwards.
 * @returns `{ input }`, or `{ problem }` naming the field when a `json` parameter is not JSON or
 *   longer than {@link MAX_JSON_CHARS} (the node turns it into its error).
 */
export function blockInput(
  properties: readonly PropertyShape[],
  operation: string,
  read: (name: string) => unknown,
): { input: Record<string, unknown> } | { problem: string } {
  const input: Record<string, unknown> = Object.create(null);
  const shown = properties.filter((p) => p.displayOptions?.show?.operation?.includes(operation));
  const types = new Map<string, string>();
  for (const property of shown) {
    if (property.type === 'collection') {
      const extra = read(property.name);
      if (extra && typeof extra === 'object') {
        const options = (property as { options?: PropertyShape[] }).options ?? [];
        for (const option of options) types.set(option.name, option.type);
        for (const [name, value] of Object.entries(extra)) {
          if (!types.has(name)) continue;
          const converted = convert(name, types.get(name)!, value);
          if (converted instanceof Problem) return { problem: converted.message };
          input[name] = converted;
        }
      }
      continue;
    }
    const value = read(property.name);
    if (value === '' && !property.required) continue;
    const converted = convert(property.name, property.type, value);
    if (converted instanceof Problem) return { problem: converted.message };
    input[property.name] = converted;
  }
  return { input };
}

/** Why a parameter could not be read; a value, not thrown, so the node raises n8n's own error. */
class Problem {
  constructor(readonly message: string) {}
}

function convert(name: string, type: string, value: unknown): unknown {
  if (type !== 'json' || typeof value !== 'string') return value;
  if (value.length > MAX_JSON_CHARS) return new Problem(`${name}: at most ${MAX_JSON_CHARS} characters of JSON`);
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return new Problem(`${name}: not valid JSON; give a JSON value, e.g. {"prompt": "a lighthouse"}`);
  }
}

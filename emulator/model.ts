import type { ModelSpec, ParamSpec } from 'replicate-flux-blocks/shared/flux/catalog.js';

/**
 * The model object Replicate returns for GET /v1/models/{owner}/{name}
 * (`schemas_model_response`), for a catalog model. `version` is its latest version id;
 * `official` models run through the model path, the others only by version.
 */
export function modelObject(
  model: string,
  spec: ModelSpec,
  version: string,
  official: boolean,
): Record<string, unknown> {
  const [owner, name] = model.split('/') as [string, string];
  return {
    url: `https://replicate.com/${model}`,
    owner,
    name,
    description: `${model} (emulated)`,
    visibility: 'public',
    github_url: null,
    paper_url: null,
    license_url: null,
    run_count: 0,
    cover_image_url: null,
    default_example: null,
    is_official: official,
    latest_version: {
      id: version,
      created_at: '2025-01-01T00:00:00.000Z',
      cog_version: '0.9.0',
      openapi_schema: cogSchema(spec),
    },
  };
}

/**
 * A version's `openapi_schema` as Cog writes it: `components.schemas.Input` (properties with
 * `title` and `x-order`; each enum a schema of its own, referred to through `allOf` and `$ref`)
 * and `components.schemas.Output`.
 */
export function cogSchema(spec: ModelSpec): Record<string, unknown> {
  const enums: Record<string, unknown> = {};
  const properties: Record<string, unknown> = {};
  Object.entries(spec.inputs).forEach(([name, param]: [string, ParamSpec], order) => {
    const { required: _, enum: choices, default: fallback, ...rest } = param;
    const title = name.replace(/_/g, ' ').replace(/\b\w/g, (c) => c.toUpperCase());
    if (choices) enums[name] = { title: name, description: 'An enumeration.', type: param.type, enum: choices };
    properties[name] = {
      ...(choices ? { allOf: [{ $ref: `#/components/schemas/${name}` }] } : rest),
      ...(fallback !== undefined && { default: fallback }),
      title,
      'x-order': order,
    };
  });
  const uri = { type: 'string', format: 'uri' };
  return {
    openapi: '3.0.2',
    info: { title: 'Cog', version: '0.1.0' },
    paths: {},
    components: {
      schemas: {
        Input: {
          type: 'object',
          title: 'Input',
          required: Object.entries(spec.inputs)
            .filter(([, p]) => p.required)
            .map(([name]) => name),
          properties,
        },
        Output: spec.output === 'list' ? { type: 'array', items: uri, title: 'Output' } : { ...uri, title: 'Output' },
        ...enums,
      },
    },
  };
}

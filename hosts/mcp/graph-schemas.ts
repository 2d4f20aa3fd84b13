import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server';
import type { JsonSchema } from 'replicate-flux-blocks/shared/framework/json-schema.js';
import { isPlainObject } from '../environment/environment.js';

/**
 * `run_graph`'s arguments: a graph in the AutoGPT platform's shape, as `checkGraph` reads it
 * (which checks the rest: known blocks, links between existing pins, no cycles, valid inputs).
 */
export const GRAPH_INPUT_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'run_graph input',
  type: 'object',
  properties: {
    name: { type: 'string', description: "The graph's name, for people." },
    nodes: {
      type: 'array',
      minItems: 1,
      description: 'The blocks to run.',
      items: {
        type: 'object',
        properties: {
          id: {
            type: 'string',
            minLength: 1,
            description:
              'Unique within the graph; links name it. 1 to 64 letters, digits, _ or - (e.g. a UUID or generate).',
          },
          block_id: {
            type: 'string',
            minLength: 1,
            description: "A block's id or name, e.g. ReplicateFluxAdvancedModelBlock (see the manifest resource).",
          },
          input_default: {
            type: 'object',
            description:
              "Fixed inputs: the block's input fields (as its tool takes them; credentials are supplied by the server).",
          },
        },
        required: ['id', 'block_id'],
      },
    },
    links: {
      type: 'array',
      description:
        "Each value a source node yields on source_name goes to the sink node's sink_name input; a node runs once per set of linked values.",
      items: {
        type: 'object',
        properties: {
          source_id: { type: 'string' },
          source_name: { type: 'string', description: 'An output of the source block, e.g. result.' },
          sink_id: { type: 'string' },
          sink_name: { type: 'string', description: 'An input of the sink block, e.g. image.' },
        },
        required: ['source_id', 'source_name', 'sink_id', 'sink_name'],
      },
    },
  },
  required: ['nodes'],
};

/**
 * `run_graph`'s arguments as the server checks them: listed as {@link GRAPH_INPUT_SCHEMA}, but
 * any object passes on to `checkGraph`, which refuses a bad graph in its own words before
 * anything runs (`Invalid graph: nodes: is required`), as the studio and the CLI show them,
 * instead of a JSON Schema validator's (`data must have required property 'nodes'`).
 */
export function graphInputSchema(): StandardSchemaWithJSON<Record<string, unknown>> {
  return {
    '~standard': {
      version: 1,
      vendor: 'flux-blocks',
      jsonSchema: { input: () => GRAPH_INPUT_SCHEMA, output: () => GRAPH_INPUT_SCHEMA },
      validate: (value: unknown) =>
        isPlainObject(value)
          ? { value }
          : { issues: [{ message: 'arguments: must be an object with nodes (and links), as a graph' }] },
    },
  };
}

/** `run_graph`'s `structuredContent` (see `graphResult`). */
export const GRAPH_OUTPUT_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'run_graph structuredContent',
  type: 'object',
  properties: {
    outputs: {
      type: 'object',
      description:
        'Per node id, per output name, every value the node yielded, in order (a node runs once per set of linked values).',
      additionalProperties: { type: 'object', additionalProperties: { type: 'array' } },
    },
    failures: {
      type: 'array',
      description: 'Each node run that yielded error.',
      items: {
        type: 'object',
        properties: { node: { type: 'string' }, block: { type: 'string' }, error: { type: 'string' } },
        required: ['node', 'block', 'error'],
      },
    },
    stopped: {
      type: 'array',
      items: { type: 'string' },
      description: 'Nodes not run or aborted because a node upstream failed.',
    },
    cost_usd: {
      type: 'number',
      minimum: 0,
      description:
        "What the run cost in USD on Replicate, from its predictions and the price table (docs/costs.md); absent when any part is unknown. Replicate's bill is the truth.",
    },
  },
  required: ['outputs', 'failures', 'stopped'],
};

// What the studio's server and page say to each other: types, and the one limit both sides apply.
import type { BlockInfo as LibraryBlockInfo, JsonSchema } from 'replicate-flux-blocks/shared/framework/json-schema.js';
import type { ModelHit } from 'replicate-flux-blocks/shared/replicate/search.js';
export type { JsonSchema, ModelHit };
export type { Graph } from 'replicate-flux-blocks/shared/graph/check-graph.js';

/** A block's image inputs by name: `one` image or `many` (a list, or one or a list). */
export type ImageInputs = Readonly<Record<string, 'one' | 'many'>>;

/**
 * `GET /api/blocks`: the registry's manifest (the AutoGPT block info), each block with what the
 * page shows it as (`title`, e.g. `OpenAI-compatible Flux Image`) and its image inputs (they get a file picker).
 */
export type BlockInfo = LibraryBlockInfo & { readonly title: string; readonly imageInputs: ImageInputs };

/** `POST /api/uploads`: an image the page sent, kept in the out directory. */
export interface Upload {
  /** What a graph names it by: its path in the out directory, `uploads/<name>`. */
  readonly path: string;
  /** Where the page shows it: `/files/uploads/<name>`. */
  readonly url: string;
  /** Its size in bytes. */
  readonly bytes: number;
}

/** Folder of the out directory that images sent from the page are kept in. */
export const UPLOADS_FOLDER = 'uploads';

/**
 * Largest image the page may send (`POST /api/uploads`), in bytes: 10 MiB. Larger ones are
 * refused by the page before sending and by the server (413); give such an image by URL.
 */
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/**
 * Most bytes the uploads folder may hold, by default: 1 GiB. An upload past it is refused (507):
 * the studio never deletes them, as saved graphs name them by path.
 */
export const MAX_UPLOADS_FOLDER_BYTES = 1024 * 1024 * 1024;

/** A node's state during a run, as the page shows it. */
export type NodeStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'canceled';

/** How a whole run ended. */
export type RunStatus = 'succeeded' | 'failed' | 'canceled';

/**
 * One event of a run, sent over Server-Sent Events (`event:` is `type`, `data:` the JSON, `id:`
 * its index, so a reconnecting EventSource resumes with `Last-Event-ID`).
 * - `node`: a node's status; `percent` (0-100) while running when the model reports it,
 *   `message` for failed, stopped and canceled nodes.
 * - `output`: a value a node yielded; `preview` is a URL on the studio (`/files/<name>`) of the
 *   image saved from it, when it is one, and `file` that image's path on the server's disk.
 * - `done`: the run ended (`message` when the studio itself failed); nothing follows.
 */
export type RunEvent =
  | {
      readonly type: 'node';
      readonly node: string;
      readonly status: NodeStatus;
      readonly percent?: number;
      readonly message?: string;
    }
  | {
      readonly type: 'output';
      readonly node: string;
      readonly output: string;
      readonly value: unknown;
      readonly preview?: string;
      readonly file?: string;
    }
  | { readonly type: 'done'; readonly status: RunStatus; readonly message?: string; readonly cost?: RunCost };

/**
 * What a run cost (`done`'s `cost`), from its ended predictions: the lines `describeRunCosts`
 * gives, one per priced node, and the total (`$0.012`, or `at least $0.003, unknown for 1 node (edit)`).
 * Absent when no node of the graph has a price (Save Image alone).
 */
export interface RunCost {
  readonly total: string;
  readonly nodes: readonly string[];
}

/**
 * `POST /api/estimate`: the graph's worst-case cost before it runs (`estimateGraphCost`), or
 * `{ok: false}` with the {@link GraphProblem} when it cannot run yet.
 * - `total`: `$0.012`, or `at least $0.003, 1 node unknown (edit)`;
 * - `nodes`: one line per node (`generate (…, black-forest-labs/flux-schnell): 1 run x 4 images x $0.003 = $0.012`);
 * - `unknown`: the nodes whose price is unknown, with the model they run.
 */
export interface CostEstimate {
  readonly total: string;
  readonly knownUsd: number;
  readonly nodes: readonly string[];
  readonly unknown: ReadonlyArray<{ readonly node: string; readonly model?: string }>;
}

/** A graph the server refuses (`POST /api/check`, `POST /api/runs`): a `GraphError`'s message and the node or link it names. */
export interface GraphProblem {
  readonly error: string;
  readonly node?: string;
  readonly link?: {
    readonly source_id: string;
    readonly source_name: string;
    readonly sink_id: string;
    readonly sink_name: string;
  };
}

/** A key the server can run with, by name only: the page never sees its value. */
export interface CredentialsChoice {
  readonly provider: string;
  readonly id: string;
  readonly type: string;
  readonly title: string;
}

/** `GET /api/info`: where runs go, and the keys nodes can pick. */
export interface StudioInfo {
  /** A sentence saying where runs go (Replicate, a proxy, or the embedded emulator). */
  readonly target: string;
  readonly embedded: boolean;
  readonly credentials: readonly CredentialsChoice[];
}

/** `GET /api/examples`: the graphs under `examples/`, by file name. */
export interface Example {
  readonly file: string;
  readonly graph: { readonly name?: string; readonly description?: string } & Record<string, unknown>;
}

/**
 * Largest graph the studio takes, in bytes: a request body to its API (the server answers 413)
 * and a graph file the page opens (refused before it is read). 4 MiB, with room for inline
 * (data: URI) images.
 */
export const MAX_GRAPH_BYTES = 4 * 1024 * 1024;

/** The block that runs any Replicate model (`owner/name`) with a free-form `input`: its node searches models and shows their forms. */
export const ANY_MODEL_BLOCK = 'ReplicateModelBlock';

/** Longest model search the studio takes (`GET /api/models?query=`), in characters: a search box's worth. */
export const MAX_MODEL_QUERY_CHARS = 200;

/** Most models one search returns (`GET /api/models?limit=`, 1-50; default {@link DEFAULT_MODEL_HITS}). */
export const MAX_MODEL_HITS = 50;
export const DEFAULT_MODEL_HITS = 12;

/** `GET /api/models?query=&limit=`: the models Replicate's search found, best first. */
export interface ModelHits {
  readonly hits: readonly ModelHit[];
}

/**
 * `GET /api/models/{owner}/{name}`: a model's latest version and its input form. `inputSchema`
 * is that version's OpenAPI `Input` schema made self-contained (its `$ref`s to enum schemas
 * inlined, inputs in `x-order`, `x-` keywords dropped), as a form renders and checks it; absent,
 * with `note` saying why, when the version publishes none the studio can show.
 */
export interface ModelForm {
  /** `owner/name`. */
  readonly model: string;
  readonly description: string;
  /** Official models run by name; others by this version. */
  readonly official: boolean;
  /** The latest version's id, when the model has one. */
  readonly version?: string;
  readonly inputSchema?: JsonSchema;
  /** The inputs that take an image (a `uri` string, or a list of them, named or described as an image). */
  readonly imageInputs: ImageInputs;
  readonly note?: string;
}

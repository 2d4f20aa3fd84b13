import type { z } from 'zod';
import type { FetchOptions, ConcurrencyLimit } from '../image/fetch-image.js';
import type { ReplicateClientOptions, CallOptions } from '../replicate/client.js';
import type { BlockPricing } from './pricing.js';

/**
 * Block categories with their descriptions, as the AutoGPT platform names them
 * (`BlockCategory`); a block lists one or more.
 */
export const BLOCK_CATEGORIES = {
  AI: 'Block that uses an AI model to do its work.',
  MULTIMEDIA: 'Block that creates or works with images, audio or video.',
  OUTPUT: 'Block that stores or sends out what a graph made.',
} as const;

/** A category name, e.g. `AI`. */
export type BlockCategory = keyof typeof BLOCK_CATEGORIES;

/** What the host hands a block for one run, besides its input. */
export interface BlockContext {
  /**
   * The secrets behind the input's `credentials` field, which only names a key: `apiKey` is the
   * Replicate API token (provider `replicate`); `keys` holds the keys of other providers by
   * provider name, e.g. `{ openai_compatible: '...' }` for the OpenAI-compatible block. A block
   * reads only its own provider's key, and no output ever holds any of them.
   */
  readonly credentials?: Credentials;
  /** Aborting it stops the run; a running prediction is canceled first. */
  readonly signal?: AbortSignal;
  /** Where and how long to run predictions (base URL, timeout, progress callback). */
  readonly runner?: RunnerOptions;
  /** Where the Save Image block writes files, its size limit, and the origins it may fetch from on private addresses. */
  readonly save?: SaveOptions;
  /**
   * Where image downloads (Save Image's) wait their turn, so the downloads of many block runs
   * keep one bound between them. `runGraph` sets one per graph run, 8 at a time, unless the
   * host passes its own (e.g. p-limit's `pLimit(4)`). Default none: each download starts at
   * once. Each download is bounded by `runner.timeoutMs` from its start.
   */
  readonly downloads?: ConcurrencyLimit;

  /**
   * Lets image inputs name local files inside `allowDir` (read, checked to be images, and sent
   * as `data:` URIs). Default: none, so a graph from elsewhere cannot read the host's disk.
   */
  readonly files?: LocalFilesOptions;
}

/** Local files a host lets blocks read as image inputs; without it, no local path is read. */
export interface LocalFilesOptions {
  /**
   * The directory local image paths must lie in (the CLI passes its working directory). Paths
   * are resolved against it; any path outside it is refused.
   */
  readonly allowDir: string;
}

/** API keys a host passes to block runs (see {@link BlockContext.credentials}). */
export interface Credentials {
  /** The Replicate API token (provider `replicate`). */
  readonly apiKey?: string;
  /** Keys of other providers, by the provider name their blocks' credentials fields give (e.g. `openai_compatible`). */
  readonly keys?: Readonly<Record<string, string>>;
  /**
   * Per provider, the only origins (e.g. `https://api.aggregator.example`) its key may be sent
   * to, for blocks whose input names the base URL: a base URL of another origin is refused
   * before any request, so a graph or an agent cannot send the host's key elsewhere. Default
   * none: a provider without an entry (or with an empty one) sends its key nowhere. The entry
   * `*` allows every other origin too, on public addresses only (not private, loopback or
   * link-local, checked on the address connected to); a listed origin is trusted on any address.
   */
  readonly origins?: Readonly<Record<string, readonly string[]>>;
}

/** Every secret in `credentials`: the Replicate token and each provider key. */
export function secretsOf(credentials: Credentials | undefined): string[] {
  return [credentials?.apiKey, ...Object.values(credentials?.keys ?? {})].filter(
    (key): key is string => typeof key === 'string' && key.length > 0,
  );
}

export type { ConcurrencyLimit };

/**
 * How blocks reach Replicate: the client's options but the token, a progress callback, the
 * hooks a job runner uses to record and resume predictions (`beforeCreate`, `onCreated`) and
 * to stop waiting without canceling (`detach`), and `onCompleted`, which hands the host each
 * ended prediction to work out its cost (`actualCost`); see `CallOptions`.
 */
export type RunnerOptions = Omit<ReplicateClientOptions, 'token'> &
  Pick<CallOptions, 'onProgress' | 'beforeCreate' | 'onCreated' | 'onCompleted' | 'detach'>;

/**
 * Where and how the Save Image block stores images; set by the host, not by graph input. Its
 * downloads are bounded by the run's timeout (`runner.timeoutMs`) and queued at `downloads`.
 */
export interface SaveOptions extends Pick<FetchOptions, 'maxBytes' | 'allowedOrigins'> {
  /** Directory files are written to, created when missing. Default `out` (relative to the working directory). */
  readonly dir?: string;
}

/** An output schema's fields; every block has an `error` output. */
export type OutputShape = z.ZodRawShape & { error: z.ZodString };

/** One `[outputName, value]` pair a block yields, typed by its output schema. */
export type BlockOutput<O extends OutputShape> = {
  [K in keyof O & string]: readonly [K, z.output<O[K]>];
}[keyof O & string];

/**
 * A block, declared once: identity, categories, zod input and output schemas, and `run`.
 * `run` receives input already validated (defaults applied) and yields `[outputName, value]`
 * pairs; it may throw {@link BlockError}, which the framework turns into the `error` output.
 */
export interface Block<I extends z.ZodTypeAny = z.ZodTypeAny, O extends OutputShape = OutputShape> {
  /** UUID v4, stable across releases: saved graphs refer to blocks by id. */
  readonly id: string;
  /** Unique, ends in `Block`, e.g. `ReplicateFluxAdvancedModelBlock`. */
  readonly name: string;
  /** What people read in editors and docs, e.g. `OpenAI-compatible Flux Image`; default: `name` split into words. */
  readonly title?: string;
  readonly description: string;
  readonly categories: readonly BlockCategory[];
  readonly inputSchema: I;
  readonly outputSchema: z.ZodObject<O>;
  /** People credited in the block's info, as the AutoGPT platform lists them. */
  readonly contributors?: readonly { readonly name: string }[];
  /** Prose for the block's docs page: what it does, how it works, use cases and tips. */
  readonly documentation: BlockDocumentation;
  /**
   * Inputs with the outputs they give against the local emulator (as AutoGPT's
   * test_input/test_output); every registered block's examples run in the test suite.
   */
  readonly examples: readonly BlockExample[];
  /**
   * The most values one run yields on each output that may yield more than one, e.g.
   * `{ result: 4 }` for a block asking for 1-4 images. Outputs left out yield at most one value
   * per run. Graph checks multiply along links by it to bound a graph's node runs before anything
   * runs (see `worstCaseNodeRuns`). A block that cannot know (a model's output list) leaves
   * the output out; that, or a model sending more than asked, is caught by the runner's
   * `maxNodeRuns` cap at run time.
   */
  readonly outputsPerRun?: Readonly<Partial<Record<keyof O & string, number>>>;
  /**
   * What a run is billed (per model choice, from `shared/flux/prices.ts`): the registry's
   * manifest gives it as AutoGPT block costs, and `estimateGraphCost` counts a graph's worst
   * case from it. Absent for blocks that make no paid request (Save Image).
   */
  readonly pricing?: BlockPricing;
  run(input: z.output<I>, context: BlockContext): AsyncGenerator<BlockOutput<O>, void, undefined>;
}

/** Hand-written parts of a block's docs page; the rest comes from its schemas. */
export interface BlockDocumentation {
  readonly whatItDoes: string;
  readonly howItWorks: string;
  readonly useCases: readonly string[];
  readonly tips: readonly string[];
}

/**
 * A sample input and the outputs it yields, in order; a RegExp stands for a value that varies
 * (a URL), matched against the string, or against the JSON of any other value.
 */
export interface BlockExample {
  readonly title: string;
  readonly input: Readonly<Record<string, unknown>>;
  readonly outputs: ReadonlyArray<readonly [string, unknown]>;
}

/** The credentials field's value in block examples: a key the host resolves (the emulator takes any). */
export const EXAMPLE_CREDENTIALS = {
  provider: 'replicate',
  id: 'example-replicate-key',
  type: 'api_key',
  title: 'Replicate API key',
} as const;

/**
 * The base URL block examples give an OpenAI-compatible provider: the emulator as
 * `flux-blocks emulator --port 8787` starts it. The example tests put their own emulator's URL
 * in its place.
 */
export const EXAMPLE_BASE_URL = 'http://127.0.0.1:8787/v1';

/** A 3x2 px blue png as a data: URI: an input image block examples can carry inline. */
export const EXAMPLE_IMAGE =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAIAAAASFvFNAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAEElEQVR4nGPQiFoAQQxwFgBBPAbNViXtjwAAAABJRU5ErkJggg==';

/** Declares a block; only types and freezes it. */
export function defineBlock<I extends z.ZodTypeAny, O extends OutputShape>(block: Block<I, O>): Block<I, O> {
  return Object.freeze(block);
}

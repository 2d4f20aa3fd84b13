/**
 * flux-blocks: AutoGPT-style workflow blocks that run Black Forest Labs' Flux models on Replicate.
 * The emulator is a separate entry point (`flux-blocks/emulator`) so hosts do not load it.
 */
export {
  ALL_BLOCKS,
  createRegistry,
  registry,
  ReplicateFlux2Block,
  ReplicateFluxAdvancedModelBlock,
  ReplicateFluxFillBlock,
  ReplicateFluxKontextBlock,
  ReplicateModelBlock,
  SaveImageBlock,
} from './blocks/index.js';
export { BLOCK_CATEGORIES, credentialsField, defineBlock, runBlock } from './shared/block.js';
export { mapInput, refineChoice, runChoice, usedBy, usedByNote } from './shared/choices.js';
export { GraphError, runGraph } from './shared/graph.js';
export type { Graph, GraphOutput, GraphResult, GraphRunOptions } from './shared/graph.js';
export { getModel, resolveModel } from './shared/lookup.js';
export type { ReplicateModel } from './shared/lookup.js';
export { fetchImage, isPrivateAddress, writeImage } from './shared/save.js';
export type { FetchedImage, SaveOptions } from './shared/save.js';
export type { Block, BlockCategory, BlockContext, BlockDocumentation, BlockExample, BlockOutput, OutputShape } from './shared/block.js';
export { BlockError, ERROR_KINDS } from './shared/errors.js';
export type { ErrorKind } from './shared/errors.js';
export { field, fieldHints, IMAGE_OUTPUTS, imageUrl, promptField, seedField } from './shared/fields.js';
export type { FieldHints } from './shared/fields.js';
export { MODELS } from './shared/models.js';
export type { ModelChoice, ModelChoices } from './shared/choices.js';
export type { ModelRef, ModelSpec, ParamSpec } from './shared/models.js';
export { BlockRegistry } from './shared/registry.js';
export { DEFAULT_BASE_URL, outputUrls, runPrediction, TERMINAL_STATUSES } from './shared/replicate.js';
export { blockInfo, inputJsonSchema, outputJsonSchema } from './shared/schema.js';
export type { BlockInfo, JsonSchema } from './shared/schema.js';
export type { Prediction, PredictionRequest, ProgressEvent, RunnerOptions } from './shared/replicate.js';

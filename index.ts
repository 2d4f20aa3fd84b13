/**
 * flux-blocks: AutoGPT-style workflow blocks that run Black Forest Labs' Flux models on Replicate.
 * The emulator is a separate entry point (`flux-blocks/emulator`) so hosts do not load it.
 */
export { ALL_BLOCKS, createRegistry, registry, ReplicateFluxAdvancedModelBlock } from './blocks/index.js';
export { BLOCK_CATEGORIES, credentialsField, defineBlock, runBlock } from './shared/block.js';
export type { Block, BlockCategory, BlockContext, BlockDocumentation, BlockExample, BlockOutput, OutputShape } from './shared/block.js';
export { BlockError, ERROR_KINDS } from './shared/errors.js';
export type { ErrorKind } from './shared/errors.js';
export { field, fieldHints } from './shared/fields.js';
export type { FieldHints } from './shared/fields.js';
export { MODELS } from './shared/models.js';
export type { ModelChoice, ModelChoices } from './shared/choices.js';
export type { ModelRef, ModelSpec, ParamSpec } from './shared/models.js';
export { BlockRegistry } from './shared/registry.js';
export { DEFAULT_BASE_URL, outputUrls, runPrediction, TERMINAL_STATUSES } from './shared/replicate.js';
export { blockInfo, inputJsonSchema, outputJsonSchema } from './shared/schema.js';
export type { BlockInfo, JsonSchema } from './shared/schema.js';
export type { Prediction, PredictionRequest, ProgressEvent, RunnerOptions } from './shared/replicate.js';

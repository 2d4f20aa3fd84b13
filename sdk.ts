/**
 * The authoring entry (`replicate-flux-blocks/sdk`): what a block file needs, for people writing
 * blocks of their own. This package's blocks are written with it and nothing else.
 */
export {
  BLOCK_CATEGORIES,
  defineBlock,
  EXAMPLE_BASE_URL,
  EXAMPLE_CREDENTIALS,
  EXAMPLE_IMAGE,
} from './framework/block.js';
export type {
  Block,
  BlockCategory,
  BlockContext,
  Credentials,
  BlockDocumentation,
  BlockExample,
  BlockOutput,
  OutputShape,
} from './framework/block.js';
export {
  credentialsField,
  field,
  fieldDescription,
  fieldHints,
  IMAGE_OUTPUTS,
  imageUrl,
  promptField,
  refineSameSize,
  seedField,
} from './framework/fields.js';
export type { FieldHints } from './framework/fields.js';
export { callOptions, replicateClient } from './framework/replicate-client.js';
export { OPENAI_COMPATIBLE, openAiCallOptions, openAiClient, referenceImages } from './framework/openai-client.js';
export type { OpenAiCallOptions, OpenAiClient } from './openai/client.js';
export type { ChatRequest, EditRequest, GeneratedImage, GenerateRequest, ImagePart } from './openai/types.js';
export { mapInput, refineChoice, runChoice, usedBy, usedByNote } from './flux/choices.js';
export type { ModelChoice, ModelChoices } from './flux/choices.js';
export { MODELS } from './flux/catalog.js';
export type { ModelRef, ModelSpec, ParamSpec } from './flux/catalog.js';
export { checkModelInput } from './flux/check-input.js';
export type { InputProblem, ParamProblem, ProblemType } from './flux/check-input.js';
export { fetchImage } from './image/fetch-image.js';
export type { FetchedImage, FetchOptions, Limiter } from './image/fetch-image.js';
export { dataUriPixelSize } from './image/image-size.js';
export type { PixelSize } from './image/image-size.js';
export { writeImage } from './image/write-image.js';
export { outputUrls } from './replicate/prediction-run.js';
export { resolveModel } from './replicate/resolve-model.js';
export { BlockError, ERROR_KINDS } from './core/errors.js';
export type { ErrorKind } from './core/errors.js';

/**
 * The authoring entry (`replicate-flux-blocks/sdk`): what a block file needs, for people writing
 * blocks of their own. This package's blocks are written with it too.
 */
export {
  BLOCK_CATEGORIES,
  defineBlock,
  EXAMPLE_BASE_URL,
  EXAMPLE_CREDENTIALS,
  EXAMPLE_IMAGE,
} from './shared/framework/block.js';
export type {
  Block,
  BlockCategory,
  BlockContext,
  Credentials,
  BlockDocumentation,
  BlockExample,
  BlockOutput,
  OutputShape,
} from './shared/framework/block.js';
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
} from './shared/framework/fields.js';
export type { FieldHints } from './shared/framework/fields.js';
export { callOptions, replicateClient } from './shared/framework/replicate-client.js';
export {
  OPENAI_COMPATIBLE,
  openAiCallOptions,
  openAiClient,
  referenceImages,
} from './shared/framework/openai-client.js';
export type { OpenAiCallOptions, OpenAiClient } from './shared/openai/client.js';
export type { ChatRequest, EditRequest, GeneratedImage, GenerateRequest, ImagePart } from './shared/openai/types.js';
export { mapInput, refineChoice, runChoice, usedBy, usedByNote } from './shared/flux/choices.js';
export type { ModelChoice, ModelChoices } from './shared/flux/choices.js';
export { MODELS } from './shared/flux/catalog.js';
export type { ModelRef, ModelSpec, ParamSpec } from './shared/flux/catalog.js';
export { checkModelInput } from './shared/flux/check-input.js';
export type { InputProblem, ParamProblem, ProblemType } from './shared/flux/check-input.js';
export { fetchImage } from './shared/image/fetch-image.js';
export type { FetchedImage, FetchOptions, Limiter } from './shared/image/fetch-image.js';
export { dataUriPixelSize } from './shared/image/image-size.js';
export type { PixelSize } from './shared/image/image-size.js';
export { writeImage } from './shared/image/write-image.js';
export { outputUrls } from './shared/replicate/prediction-run.js';
export { resolveModel } from './shared/replicate/resolve-model.js';
export { BlockError, ERROR_KINDS } from './shared/core/errors.js';
export type { ErrorKind } from './shared/core/errors.js';

/**
 * The authoring entry (`replicate-flux-blocks/sdk`): what a block of your own needs: define it,
 * declare its fields, run a Replicate model, fail with a clear error. The README shows a whole
 * block written with these names alone.
 */
export {
  BLOCK_CATEGORIES,
  defineBlock,
  EXAMPLE_CREDENTIALS,
  EXAMPLE_IMAGE,
  type Block,
  type BlockCategory,
  type BlockContext,
  type BlockDocumentation,
  type BlockExample,
  type BlockOutput,
  type Credentials,
  type OutputShape,
} from './shared/framework/block.js';
export {
  credentialsField,
  field,
  IMAGE_OUTPUTS,
  imageUrl,
  promptField,
  seedField,
  type FieldHints,
} from './shared/framework/fields.js';
export { runModel } from './shared/framework/replicate-client.js';
export { BlockError, type ErrorKind } from './shared/core/errors.js';

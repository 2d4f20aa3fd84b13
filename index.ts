/**
 * replicate-flux-blocks, for hosts: AutoGPT-style workflow blocks that run Black Forest Labs'
 * Flux models on Replicate, their registry, the runners for one block and for a graph, and the
 * Replicate client they use. Writing blocks of your own: `replicate-flux-blocks/sdk`. The
 * emulator is a package of its own (`replicate-flux-emulator`) so hosts do not load it.
 */
export {
  ALL_BLOCKS,
  createRegistry,
  OpenAICompatibleFluxImageBlock,
  registry,
  ReplicateFlux2Block,
  ReplicateFluxAdvancedModelBlock,
  ReplicateFluxFillBlock,
  ReplicateFluxKontextBlock,
  ReplicateModelBlock,
  SaveImageBlock,
} from './blocks/index.js';
export type {
  Block,
  BlockContext,
  Credentials,
  ConcurrencyLimit,
  RunnerOptions,
  SaveOptions,
} from './shared/framework/block.js';
export { BlockRegistry } from './shared/framework/registry.js';
export { runBlock } from './shared/framework/run-block.js';
export { blockInfo } from './shared/framework/json-schema.js';
export type { BlockInfo, JsonSchema } from './shared/framework/json-schema.js';
export { GraphError } from './shared/graph/check-graph.js';
export type { Graph } from './shared/graph/check-graph.js';
export { runGraph } from './shared/graph/run-graph.js';
export type { GraphOutput, GraphResult, GraphRunOptions, NodeRunEvent } from './shared/graph/run-graph.js';
export { createReplicateClient } from './shared/replicate/client.js';
export type { CallOptions, ReplicateClient, ReplicateClientOptions } from './shared/replicate/client.js';
export type { ReplicateFile } from './shared/replicate/files.js';
export { createOpenAiClient } from './shared/openai/client.js';
export type { OpenAiCallOptions, OpenAiClient, OpenAiClientOptions } from './shared/openai/client.js';
export type { ChatRequest, EditRequest, GeneratedImage, GenerateRequest, ImagePart } from './shared/openai/types.js';
export { createWebhookReceiver } from './shared/replicate/webhooks.js';
export type { ListeningReceiver, WebhookReceiver, WebhookReceiverOptions } from './shared/replicate/webhooks.js';
export { validateWebhook } from './shared/replicate/webhook-signature.js';
export type { WebhookRequest } from './shared/replicate/webhook-signature.js';
export { DEFAULT_BASE_URL } from './shared/replicate/types.js';
export type {
  Prediction,
  PredictionRequest,
  PredictionStatus,
  ProgressEvent,
  ReplicateModel,
} from './shared/replicate/types.js';
export { BlockError, ERROR_KINDS } from './shared/core/errors.js';
export type { ErrorKind } from './shared/core/errors.js';

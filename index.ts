/**
 * replicate-flux-blocks, for hosts: AutoGPT-style workflow blocks that run Black Forest Labs'
 * Flux models on Replicate, their registry, the runners for one block and for a graph, and the
 * Replicate client they use. Writing blocks of your own: `replicate-flux-blocks/sdk`. The
 * emulator is an entry of its own (`replicate-flux-blocks/emulator`) so hosts do not load it.
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
export type { Block, BlockContext, Credentials, Limiter, RunnerOptions, SaveOptions } from './framework/block.js';
export { BlockRegistry } from './framework/registry.js';
export { runBlock } from './framework/run-block.js';
export { blockInfo } from './framework/json-schema.js';
export type { BlockInfo, JsonSchema } from './framework/json-schema.js';
export { GraphError } from './graph/check-graph.js';
export type { Graph } from './graph/check-graph.js';
export { runGraph } from './graph/run-graph.js';
export type { GraphOutput, GraphResult, GraphRunOptions, NodeRunEvent } from './graph/run-graph.js';
export { createReplicateClient } from './replicate/client.js';
export type { CallOptions, ReplicateClient, ReplicateClientOptions } from './replicate/client.js';
export type { ReplicateFile } from './replicate/files.js';
export { createOpenAiClient } from './openai/client.js';
export type { OpenAiCallOptions, OpenAiClient, OpenAiClientOptions } from './openai/client.js';
export type { ChatRequest, EditRequest, GeneratedImage, GenerateRequest, ImagePart } from './openai/types.js';
export { createWebhookReceiver } from './replicate/webhooks.js';
export type { ListeningReceiver, WebhookReceiver, WebhookReceiverOptions } from './replicate/webhooks.js';
export { validateWebhook } from './replicate/webhook-signature.js';
export type { WebhookRequest } from './replicate/webhook-signature.js';
export { DEFAULT_BASE_URL } from './replicate/types.js';
export type {
  Prediction,
  PredictionRequest,
  PredictionStatus,
  ProgressEvent,
  ReplicateModel,
} from './replicate/types.js';
export { BlockError, ERROR_KINDS } from './core/errors.js';
export type { ErrorKind } from './core/errors.js';

import { BlockRegistry } from '../shared/framework/registry.js';
import { OpenAICompatibleFluxImageBlock } from './openai-compatible-flux-image.js';
import { ReplicateFlux2Block } from './replicate-flux-2.js';
import { ReplicateFluxAdvancedModelBlock } from './replicate-flux-advanced.js';
import { ReplicateFluxFillBlock } from './replicate-flux-fill.js';
import { ReplicateFluxKontextBlock } from './replicate-flux-kontext.js';
import { ReplicateFluxLoraBlock } from './replicate-flux-lora.js';
import { ReplicateFluxTrainerBlock } from './replicate-flux-trainer.js';
import { ReplicateModelBlock } from './replicate-model.js';
import { ReplicateModelSearchBlock } from './replicate-model-search.js';
import { SaveImageBlock } from './save-image.js';

export {
  OpenAICompatibleFluxImageBlock,
  ReplicateFlux2Block,
  ReplicateFluxAdvancedModelBlock,
  ReplicateFluxFillBlock,
  ReplicateFluxKontextBlock,
  ReplicateFluxLoraBlock,
  ReplicateFluxTrainerBlock,
  ReplicateModelBlock,
  ReplicateModelSearchBlock,
  SaveImageBlock,
};

/** Every block of the package. */
export const ALL_BLOCKS = [
  ReplicateFluxAdvancedModelBlock,
  ReplicateFluxKontextBlock,
  ReplicateFluxFillBlock,
  ReplicateFlux2Block,
  ReplicateFluxLoraBlock,
  ReplicateModelBlock,
  ReplicateModelSearchBlock,
  ReplicateFluxTrainerBlock,
  OpenAICompatibleFluxImageBlock,
  SaveImageBlock,
] as const;

/** A new registry holding every block of the package; each call makes a fresh one. */
export function createRegistry(): BlockRegistry {
  return new BlockRegistry(ALL_BLOCKS);
}

/**
 * A ready registry holding every block of the package. Hosts that register blocks of their own
 * make their own with {@link createRegistry}, so this one stays as shipped.
 */
export const registry = createRegistry();

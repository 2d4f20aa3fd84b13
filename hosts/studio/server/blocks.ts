import type { Block } from 'replicate-flux-blocks/shared/framework/block.js';
import { isImageInput } from 'replicate-flux-blocks/shared/framework/fields.js';
import { blockInfo, blockTitle, shapeOf } from 'replicate-flux-blocks/shared/framework/json-schema.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import type { BlockInfo, ImageInputs } from '../protocol.js';

/**
 * `GET /api/blocks`: each block's AutoGPT block info, with the title people read
 * (`OpenAI-compatible Flux Image`) and its image inputs.
 */
export function studioBlocks(registry: BlockRegistry): BlockInfo[] {
  return registry
    .list()
    .map((block) => ({ ...blockInfo(block), title: blockTitle(block), imageInputs: imageInputsOf(block) }));
}

/**
 * The block's image inputs (fields made with `imageUrl()`, or lists of them) by name: `one` or
 * `many`. The page gives these a file picker; the JSON Schema alone does not tell them apart.
 */
export function imageInputsOf(block: Block): ImageInputs {
  const found: Record<string, 'one' | 'many'> = Object.create(null) as Record<string, 'one' | 'many'>;
  for (const [name, schema] of Object.entries(shapeOf(block.inputSchema))) {
    const kind = isImageInput(schema);
    if (kind) found[name] = kind;
  }
  return found;
}

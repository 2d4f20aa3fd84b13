import type { Block } from './block.js';
import { blockInfo, type BlockInfo } from './json-schema.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * The blocks a host can run, by id and by name. A plain object: make as many as needed
 * (tests, hosts with their own blocks); nothing is shared between registries.
 */
export class BlockRegistry {
  private readonly byId = new Map<string, Block>();
  private readonly byName = new Map<string, Block>();

  /** Registers blocks. @throws Error when an id is not a UUID v4, a name does not end in `Block`, or either is taken (naming both blocks). */
  constructor(blocks: Iterable<Block> = []) {
    for (const block of blocks) this.register(block);
  }

  /**
   * Adds a block.
   * @throws Error when its id is not a UUID v4, its name does not end in `Block`, or its id
   *   or name is already registered (the message names both blocks).
   */
  register(block: Block): this {
    if (!UUID_V4.test(block.id)) throw new Error(`Block ${block.name}: id "${block.id}" is not a UUID v4`);
    if (!block.name.endsWith('Block')) throw new Error(`Block ${block.name}: name must end in "Block"`);
    const clash = this.byId.get(block.id) ?? this.byName.get(block.name);
    if (clash) {
      throw new Error(
        `Block ${block.name} (${block.id}) clashes with registered block ${clash.name} (${clash.id}): ids and names must be unique`,
      );
    }
    this.byId.set(block.id, block);
    this.byName.set(block.name, block);
    return this;
  }

  /** The block with this id or name, or undefined. */
  get(idOrName: string): Block | undefined {
    return this.byId.get(idOrName) ?? this.byName.get(idOrName);
  }

  /** Every registered block, in registration order. */
  list(): Block[] {
    return [...this.byId.values()];
  }

  /** Every registered block's info (AutoGPT block info shape, with JSON Schemas), in registration order. */
  manifest(): BlockInfo[] {
    return this.list().map(blockInfo);
  }
}

/**
 * The trained weights the emulator serves at a training's `output.weights` URL: a tar laid out as
 * the Flux LoRA trainer writes it (`tar -cvf trained_model.tar output/flux_train_replicate`, whose
 * LoRA is `lora.safetensors`: replicate/flux-fine-tuner's train.py, the code of
 * ostris/flux-dev-lora-trainer), holding a small safetensors file of fake LoRA tensors. Real bytes
 * of the right formats, so hosts can download, untar and parse them; no image model could load them.
 */

/** Where a training's weights live: `/weights/{training id}/trained_model.tar`. */
const WEIGHTS_PATH = /^\/weights\/([a-z2-7]+)\/trained_model\.tar$/;

/** The path of a training's weights file, under the emulator's origin. */
export const weightsPath = (trainingId: string) => `/weights/${trainingId}/trained_model.tar`;

/** The training id a path names, or undefined when it is no weights file. */
export function parseWeightsPath(path: string): string | undefined {
  return WEIGHTS_PATH.exec(path)?.[1];
}

/** The file inside the tar, as the trainer names it. */
export const LORA_FILE = 'output/flux_train_replicate/lora.safetensors';

/** Width of the fake tensors' other side: small, so the file stays a few KB whatever the rank. */
const FEATURES = 4;

/**
 * A safetensors file (8-byte little-endian header length, JSON header, then the data) with one
 * LoRA pair, `lora_A` (`rank` x 4) and `lora_B` (4 x `rank`), float32, filled from `seed`; the
 * header's `__metadata__` names the trigger word and says the weights are emulated.
 */
export function loraSafetensors(rank: number, triggerWord: string, seed: string): Buffer {
  const size = rank * FEATURES * 4;
  const layer = 'transformer.single_transformer_blocks.0.proj_out';
  const header = JSON.stringify({
    __metadata__: { format: 'pt', trigger_word: triggerWord, emulated: 'true' },
    [`${layer}.lora_A.weight`]: { dtype: 'F32', shape: [rank, FEATURES], data_offsets: [0, size] },
    [`${layer}.lora_B.weight`]: { dtype: 'F32', shape: [FEATURES, rank], data_offsets: [size, 2 * size] },
  });
  // The format pads the header with spaces so the data starts 8-byte aligned.
  const padded = Buffer.from(header.padEnd(Math.ceil(header.length / 8) * 8, ' '));
  const data = Buffer.alloc(2 * size);
  let state = [...seed].reduce((hash, c) => (hash * 31 + c.charCodeAt(0)) >>> 0, 7);
  for (let offset = 0; offset < data.length; offset += 4) {
    state = (state * 1103515245 + 12345) >>> 0;
    data.writeFloatLE((state / 2 ** 32 - 0.5) / 100, offset);
  }
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(padded.length));
  return Buffer.concat([length, padded, data]);
}

/** A POSIX ustar archive of `files` (regular files, mode 0644, the given time), as `tar -cf` writes it. */
export function tarArchive(files: ReadonlyArray<{ name: string; bytes: Buffer }>, mtime: Date): Buffer {
  const blocks: Buffer[] = [];
  for (const { name, bytes } of files) {
    const header = Buffer.alloc(512);
    const put = (text: string, offset: number, length: number) => header.write(text, offset, length, 'ascii');
    const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0');
    put(name, 0, 100);
    put(octal(0o644, 8), 100, 8);
    put(octal(0, 8), 108, 8);
    put(octal(0, 8), 116, 8);
    put(octal(bytes.length, 12), 124, 12);
    put(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 12);
    put('        ', 148, 8); // the checksum counts its own field as spaces
    put('0', 156, 1);
    put('ustar\u000000', 257, 8);
    put('root', 265, 32);
    put('root', 297, 32);
    const sum = header.reduce((total, byte) => total + byte, 0);
    put(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8);
    blocks.push(header, bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512));
  }
  // Two zero blocks end the archive.
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

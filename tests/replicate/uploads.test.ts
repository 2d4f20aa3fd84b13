import { describe, expect, test } from '@jest/globals';
import {
  MAX_DATA_URI_BYTES,
  MAX_FILE_BYTES,
  uploadLargeDataUris,
  type ReplicateFile,
} from '../../shared/replicate/files.js';
import { FILE_URL_BYTES, MAX_INPUT_JSON_BYTES } from '../../shared/replicate/input-size.js';
import { clientFor, requestsTo, TOKEN, useEmulator } from '../helpers.js';

// Which data: URIs of a model input go up through the Files API (POST /v1/files) before the
// create, under what name and type, and which stay inline.
const local = useEmulator();
const LORA = 'lucataco/flux-schnell-lora:2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574';

/** A percent-encoded data: URI whose payload is exactly `bytes` bytes (base64 cannot hit every size). */
const dataUri = (bytes: number, fill = 'a') => `data:application/octet-stream,${fill.repeat(bytes)}`;
/** The input's size as the create sends it, in bytes of JSON. */
const jsonBytes = (input: unknown) => Buffer.byteLength(JSON.stringify(input));

/**
 * Runs `uploadLargeDataUris` with the client's real upload to the emulator; returns what was sent
 * and the files the Files API made, in upload order.
 */
async function send(input: Record<string, unknown>) {
  const client = clientFor(local.emulator);
  const files: ReplicateFile[] = [];
  const sent = await uploadLargeDataUris(input, async (content, filename) => {
    const file = await client.uploadFile(content, filename);
    files.push(file);
    return file;
  });
  expect(requestsTo(local.emulator, 'POST', /^\/v1\/files$/)).toHaveLength(files.length);
  return { sent, uploaded: files.map((f) => f.name), files };
}

describe('which data: URIs go up as files', () => {
  test('one over 256 KiB goes up; one of exactly 256 KiB stays inline', async () => {
    const atLimit = dataUri(MAX_DATA_URI_BYTES);
    const over = dataUri(MAX_DATA_URI_BYTES + 1, 'b');
    const { sent, uploaded, files } = await send({ prompt: 'x', image: atLimit, mask: over });
    expect(uploaded).toEqual(['mask.octet-stream']);
    expect(sent).toEqual({ prompt: 'x', image: atLimit, mask: files[0]!.urls.get });
  });

  test('base64 padding holds no byte: one of exactly 256 KiB ending in == stays inline', async () => {
    const encode = (bytes: number) => `data:image/png;base64,${Buffer.alloc(bytes, 7).toString('base64')}`;
    // 262,144 bytes is 87,381 groups of three and one byte more: the last group is padded with ==.
    const atLimit = encode(MAX_DATA_URI_BYTES);
    const over = encode(MAX_DATA_URI_BYTES + 1);
    expect(atLimit.endsWith('==')).toBe(true);
    const { sent, uploaded, files } = await send({ image: atLimit, mask: over });
    expect(uploaded).toEqual(['mask.png']);
    expect(sent).toEqual({ image: atLimit, mask: files[0]!.urls.get });
  });

  test('a small one beside a large one stays inline when the large one going up makes the input fit', async () => {
    // Both inline: 1.1 MB of JSON; the large one as a file URL: about 200 KB.
    const large = dataUri(900_000);
    const small = dataUri(200_000, 'b');
    expect(jsonBytes({ image: large, mask: small })).toBeGreaterThan(MAX_INPUT_JSON_BYTES);
    const { sent, uploaded } = await send({ image: large, mask: small });
    expect(uploaded).toEqual(['image.octet-stream']);
    expect(sent.mask).toBe(small);
  });

  // `second` (100,000 bytes) comes before `first` (250,000 bytes of JSON), both under 256 KiB: the larger goes up
  // first whatever the order of fields, and only while the input is over 1 MiB.
  const first = dataUri(250_000 - 32);
  const second = dataUri(100_000, 'b');
  /** What uploading `first` takes off the input's JSON, in bytes: it becomes a file URL. */
  const saved = jsonBytes(first) - (FILE_URL_BYTES + 2);
  test.each([
    ['exactly 1 MiB of JSON with both inline: none', MAX_INPUT_JSON_BYTES, []],
    ['exactly 1 MiB once the larger is a file URL: the larger', MAX_INPUT_JSON_BYTES + saved, ['first.octet-stream']],
    ['one byte more: both', MAX_INPUT_JSON_BYTES + saved + 1, ['first.octet-stream', 'second.octet-stream']],
  ])('an input of %s go up, and the create fits in 1 MiB', async (_, bytes: number, expected: string[]) => {
    const input = { second, first, prompt: 'x'.repeat(bytes - jsonBytes({ second, first, prompt: '' })) };
    expect(jsonBytes(input)).toBe(bytes);
    const { sent, uploaded } = await send(input);
    // Uploads go in the order of fields; which ones go is what counts.
    expect(uploaded.sort()).toEqual(expected);
    expect(jsonBytes(sent)).toBeLessThanOrEqual(MAX_INPUT_JSON_BYTES);
  });
});

describe('how an uploaded file is named and typed', () => {
  test.each([
    ['image/png', 'image.png', 'image/png'],
    // A media type with no subtype: a generic extension.
    ['image', 'image.bin', 'image'],
    // Characters a file name should not carry are left out of the extension.
    ['image/x png', 'image.xpng', 'image/x png'],
    ['image/svg+xml', 'image.svg+xml', 'image/svg+xml'],
  ])('a %s data: URI goes up as %s of type %s', async (mediaType, name, type) => {
    const uri = `data:${mediaType};base64,${Buffer.alloc(MAX_DATA_URI_BYTES + 3).toString('base64')}`;
    const { files } = await send({ prompt: 'x', image: uri });
    expect(files).toEqual([expect.objectContaining({ name, content_type: type, size: MAX_DATA_URI_BYTES + 3 })]);
  });
});

describe('through a run', () => {
  test('a field named __proto__ is sent as given beside an uploaded file', async () => {
    const input = JSON.parse(
      `{"prompt":"x","hf_lora":${JSON.stringify(dataUri(MAX_DATA_URI_BYTES + 1))},"__proto__":"kept"}`,
    ) as Record<string, unknown>;
    // The emulator refuses the field as Replicate would (422); what matters is what was sent.
    await clientFor(local.emulator)
      .run({ model: LORA, input })
      .catch(() => undefined);
    expect(requestsTo(local.emulator, 'POST', /^\/v1\/files$/)).toHaveLength(1);
    const [create] = requestsTo(local.emulator, 'POST', /^\/v1\/predictions$/);
    const sent = (create!.body as { input: Record<string, unknown> }).input;
    expect(Object.keys(sent)).toEqual(['prompt', 'hf_lora', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(sent, '__proto__')?.value).toBe('kept');
    expect(sent.hf_lora).toMatch(new RegExp(`^${local.emulator.url}/files/[a-z2-7]+$`));
  });
});

// Replicate's spec: "Files must be less than 100MB in size" (the 413 of POST /v1/files).
describe('files under 100 MB', () => {
  test('a file of 99,999,999 bytes goes up; one of exactly 100,000,000 is an input error before any request', async () => {
    const client = clientFor(local.emulator);
    const under = await client.uploadFile(new Blob([new Uint8Array(MAX_FILE_BYTES - 1)]), 'under.bin');
    expect(under.size).toBe(MAX_FILE_BYTES - 1);
    const uploads = requestsTo(local.emulator, 'POST', /^\/v1\/files$/).length;
    await expect(client.uploadFile(new Blob([new Uint8Array(MAX_FILE_BYTES)]), 'at.bin')).rejects.toMatchObject({
      kind: 'invalid_input',
      message: "at.bin: 100000000 bytes; Replicate's Files API takes files under 100000000 bytes (100 MB)",
    });
    expect(requestsTo(local.emulator, 'POST', /^\/v1\/files$/)).toHaveLength(uploads);
  });

  test('the emulator answers a file of exactly 100,000,000 bytes 413, as Replicate', async () => {
    const form = new FormData();
    form.set('content', new Blob([new Uint8Array(MAX_FILE_BYTES)]), 'at.bin');
    const response = await fetch(`${local.emulator.url}/files`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: form,
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ detail: 'Files must be less than 100MB in size' });
  });
});

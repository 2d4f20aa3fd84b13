import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { EXAMPLE_IMAGE } from '../../shared/framework/block.js';
import { fetchImage } from '../../shared/image/fetch-image.js';
import { blockResult, downscaled, graphResult, MAX_IMAGE_SIDE, structuredOutputs } from '../../hosts/mcp/results.js';

/** A png of random pixels: it does not compress, so only a smaller size or jpeg fits a tight limit. */
async function noise(width: number, height: number) {
  const png = await sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  return fetchImage(`data:image/png;base64,${png.toString('base64')}`);
}

describe('image items', () => {
  test('a large image is downscaled to a long side of 1024 px and re-encoded to fit the byte limit, keeping its aspect ratio', async () => {
    const image = await noise(2000, 1500);
    expect(image.bytes.length).toBeGreaterThan(5_000_000);
    const item = (await downscaled(image, 300_000))!;
    expect(item.data.length).toBeLessThanOrEqual(300_000);
    const { width, height, format } = await sharp(Buffer.from(item.data, 'base64')).metadata();
    expect(item.mimeType).toBe(`image/${format}`);
    expect(Math.max(width!, height!)).toBeLessThanOrEqual(MAX_IMAGE_SIDE);
    expect(width! / height!).toBeCloseTo(4 / 3, 1);
  });

  test('a small image keeps its size and format', async () => {
    const item = (await downscaled(await fetchImage(EXAMPLE_IMAGE), 1_000_000))!;
    expect(item.mimeType).toBe('image/png');
    expect(await sharp(Buffer.from(item.data, 'base64')).metadata()).toMatchObject({ width: 3, height: 2 });
  });

  test('an image that cannot fit gives no item', async () => {
    expect(await downscaled(await noise(200, 200), 100)).toBeUndefined();
  });

  test('--max-image-bytes 0 sends no image items and reads no image', async () => {
    const result = await blockResult(
      'SaveImageBlock',
      [
        ['data_uri', EXAMPLE_IMAGE],
        ['width', 3],
      ],
      { maxImageBytes: 0 },
    );
    expect(result.content.map((item) => item.type)).toEqual(['text', 'text']);
    const fetched = await blockResult(
      'ReplicateFluxAdvancedModelBlock',
      [
        ['result', 'https://nowhere.invalid/a.png'],
        ['seed', 1],
      ],
      { maxImageBytes: 0 },
    );
    expect(fetched.content).toEqual([
      {
        type: 'text',
        text: 'ReplicateFluxAdvancedModelBlock finished.\nresult: https://nowhere.invalid/a.png\nseed: 1',
      },
      { type: 'text', text: '{"result":["https://nowhere.invalid/a.png"],"seed":1}' },
    ]);
  });

  test("Save Image's data: URI becomes an image item; the text shows it shortened", async () => {
    const result = await blockResult(
      'SaveImageBlock',
      [
        ['data_uri', EXAMPLE_IMAGE],
        ['content_type', 'image/png'],
      ],
      { maxImageBytes: 1_000_000 },
    );
    expect(result.content[0]).toEqual({
      type: 'text',
      text: `SaveImageBlock finished.\ndata_uri: data:image/png;base64,... (${EXAMPLE_IMAGE.length} characters)\ncontent_type: image/png`,
    });
    // The JSON line shortens the data: URI too: the image item carries it.
    expect(result.content[1]).toEqual({
      type: 'text',
      text: JSON.stringify({
        data_uri: `data:image/png;base64,... (${EXAMPLE_IMAGE.length} characters)`,
        content_type: 'image/png',
      }),
    });
    expect(result.content[2]).toMatchObject({ type: 'image', mimeType: 'image/png' });
  });
});

describe('the JSON text item (for clients that read content only, such as AutoGPT)', () => {
  test('holds structuredContent as one JSON line after the summary', async () => {
    const result = await blockResult(
      'ReplicateFluxAdvancedModelBlock',
      [
        ['result', 'https://nowhere.invalid/a.png'],
        ['result', 'https://nowhere.invalid/b.png'],
        ['seed', 7],
      ],
      { maxImageBytes: 0 },
    );
    expect(result.content[1]).toEqual({
      type: 'text',
      text: '{"result":["https://nowhere.invalid/a.png","https://nowhere.invalid/b.png"],"seed":7}',
    });
    expect(JSON.parse((result.content[1] as { text: string }).text)).toEqual(result.structuredContent);
  });

  test('is left out of an error, whose text is the message alone', async () => {
    const result = await blockResult('ReplicateFluxAdvancedModelBlock', [['error', 'boom']], { maxImageBytes: 0 });
    expect(result.content).toEqual([{ type: 'text', text: 'Error: boom' }]);
    expect(result.isError).toBe(true);
  });
});

test('structuredContent: result is a list in yield order, every other output a value', () => {
  expect(
    structuredOutputs([
      ['result', 'https://a/1.png'],
      ['result', 'https://a/2.png'],
      ['seed', 42],
    ]),
  ).toEqual({ result: ['https://a/1.png', 'https://a/2.png'], seed: 42 });
  expect(structuredOutputs([['error', 'boom']])).toEqual({ error: 'boom' });
});

describe('keys from a graph or a block are never prototypes', () => {
  const polluted = () => ['result', 'seed', 'path'].filter((name) => name in {});
  // Were a builder to write onto Object.prototype, the rest of this file's tests would see it.
  afterEach(() => {
    for (const name of polluted()) delete (Object.prototype as Record<string, unknown>)[name];
  });

  test('a node id __proto__ or constructor (which checkGraph refuses) stays a key of outputs, and ({}).result stays undefined', async () => {
    const result = await graphResult(
      {
        outputs: [
          { node: '__proto__', output: 'result', value: 'https://a/1.png' },
          { node: '__proto__', output: 'result', value: 'https://a/2.png' },
          { node: 'constructor', output: 'seed', value: 7 },
          { node: 'n1', output: '__proto__', value: 'x' },
        ],
        failures: [],
        stopped: [],
        costs: [],
      },
      { maxImageBytes: 0 },
    );
    expect(polluted()).toEqual([]);
    expect(({} as Record<string, unknown>).result).toBeUndefined();
    const outputs = (result.structuredContent as { outputs: Record<string, unknown> }).outputs;
    expect(Object.keys(outputs)).toEqual(['__proto__', 'constructor', 'n1']);
    expect(Object.getPrototypeOf(outputs)).toBe(Object.prototype);
    expect(JSON.parse(JSON.stringify(result.structuredContent))).toEqual({
      outputs: JSON.parse(
        '{"__proto__": {"result": ["https://a/1.png", "https://a/2.png"]}, "constructor": {"seed": [7]}, "n1": {"__proto__": ["x"]}}',
      ),
      failures: [],
      stopped: [],
    });
    expect(result.isError).toBeUndefined();
  });

  test('a block output named __proto__ is a key of structuredContent, not its prototype', () => {
    const structured = structuredOutputs([
      ['__proto__', { polluted: true }],
      ['result', 'https://a/1.png'],
    ]);
    expect(Object.keys(structured)).toEqual(['__proto__', 'result']);
    expect((structured as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(structured)).toBe(Object.prototype);
  });
});

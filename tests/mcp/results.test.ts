import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import sharp from 'sharp';
import { EXAMPLE_IMAGE } from '../../shared/framework/block.js';
import { fetchImage } from '../../shared/image/fetch-image.js';
import { imageFileName } from '../../shared/image/write-image.js';
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

  test('a jpeg or webp keeps its format (a png of a photo would be larger)', async () => {
    const blue = sharp({ create: { width: 64, height: 48, channels: 3, background: '#3080c0' } });
    for (const format of ['jpeg', 'webp'] as const) {
      const bytes = await blue.clone().toFormat(format).toBuffer();
      const item = (await downscaled(
        await fetchImage(`data:image/${format};base64,${bytes.toString('base64')}`),
        1_000_000,
      ))!;
      expect(item.mimeType).toBe(`image/${format}`);
      expect(await sharp(Buffer.from(item.data, 'base64')).metadata()).toMatchObject({ format, width: 64, height: 48 });
    }
  });

  test('an image whose own encoding is exactly the byte limit is sent as it is', async () => {
    const image = await fetchImage(EXAMPLE_IMAGE);
    const own = (await downscaled(image, 1_000_000))!;
    expect(await downscaled(image, own.data.length)).toEqual(own);
  });

  test('a lower jpeg quality is tried before a smaller size', async () => {
    // 1024 px of noise: about 890 kB as jpeg at quality 80, 620 kB at 60 (base64).
    const item = (await downscaled(await noise(1024, 1024), 750_000))!;
    expect(item.mimeType).toBe('image/jpeg');
    expect(await sharp(Buffer.from(item.data, 'base64')).metadata()).toMatchObject({ width: 1024, height: 1024 });
  });

  test('transparent pixels turn white, not black, when the image must become a jpeg', async () => {
    // Noise (so the png is too large), its left half transparent.
    const [width, height] = [512, 512];
    const pixels = randomBytes(width * height * 4);
    for (let i = 0; i < width * height; i++) pixels[i * 4 + 3] = i % width < width / 2 ? 0 : 255;
    const png = await sharp(pixels, { raw: { width, height, channels: 4 } })
      .png()
      .toBuffer();
    const item = (await downscaled(await fetchImage(`data:image/png;base64,${png.toString('base64')}`), 300_000))!;
    expect(item.mimeType).toBe('image/jpeg');
    // stats() reads its input, not the pipeline: the left half is cut out first.
    const left = await sharp(Buffer.from(item.data, 'base64'))
      .extract({ left: 0, top: 0, width: width / 2 - 8, height })
      .toBuffer();
    const { channels } = await sharp(left).stats();
    for (const { mean } of channels) expect(mean).toBeGreaterThan(240);
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

describe('a graph result', () => {
  test('the text names the actual cost when every node run is priced (what AutoGPT reads), and no cost when one is unknown', async () => {
    const outputs = [{ node: 'gen', output: 'seed', value: 7 }];
    const priced = { node: 'gen', block: 'ReplicateFluxAdvancedModelBlock', usd: 0.003 };
    const known = await graphResult(
      { outputs, failures: [], stopped: [], costs: [priced, { ...priced, usd: 0.003 }] },
      { maxImageBytes: 0 },
    );
    const text = (known.content[0] as { text: string }).text.split('\n');
    expect(text).toEqual(['Graph finished.', 'gen.seed: 7', 'cost: $0.006']);
    expect((known.structuredContent as { cost_usd?: number }).cost_usd).toBe(0.006);
    const unknown = await graphResult(
      { outputs, failures: [], stopped: [], costs: [priced, { ...priced, usd: null, unknown: 'no known price' }] },
      { maxImageBytes: 0 },
    );
    expect((unknown.content[0] as { text: string }).text).not.toMatch(/cost/);
    expect(unknown.structuredContent).not.toHaveProperty('cost_usd');
  });

  test('with failed and stopped nodes: isError, each failure and every stopped node in the text, no JSON line, error outputs not repeated', async () => {
    const result = await graphResult(
      {
        outputs: [
          { node: 'gen', output: 'result', value: 'https://nowhere.invalid/a.png' },
          { node: 'bad', output: 'error', value: 'prompt: required' },
        ],
        failures: [{ node: 'bad', block: 'ReplicateFluxAdvancedModelBlock', error: 'prompt: required' }],
        stopped: ['save', 'upscale'],
        costs: [],
      },
      { maxImageBytes: 0 },
    );
    expect(result.content).toEqual([
      {
        type: 'text',
        text: [
          'Error: 1 node run(s) failed.',
          'Node bad (ReplicateFluxAdvancedModelBlock) failed: prompt: required',
          'Stopped, as a node upstream failed: save, upscale',
          'gen.result: https://nowhere.invalid/a.png',
        ].join('\n'),
      },
    ]);
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toEqual({
      outputs: { gen: { result: ['https://nowhere.invalid/a.png'] }, bad: { error: ['prompt: required'] } },
      failures: [{ node: 'bad', block: 'ReplicateFluxAdvancedModelBlock', error: 'prompt: required' }],
      stopped: ['save', 'upscale'],
    });
  });

  test('that finished: "Graph finished.", one line per output, the JSON line, not isError', async () => {
    const result = await graphResult(
      {
        outputs: [
          { node: 'gen', output: 'result', value: 'https://nowhere.invalid/a.png' },
          { node: 'gen', output: 'seed', value: 7 },
        ],
        failures: [],
        stopped: [],
        costs: [],
      },
      { maxImageBytes: 0 },
    );
    expect(result.content).toEqual([
      { type: 'text', text: 'Graph finished.\ngen.result: https://nowhere.invalid/a.png\ngen.seed: 7' },
      {
        type: 'text',
        text: '{"outputs":{"gen":{"result":["https://nowhere.invalid/a.png"],"seed":[7]}},"failures":[],"stopped":[]}',
      },
    ]);
    expect(result.isError).toBeUndefined();
  });
});

describe('saved files (out)', () => {
  let out = '';
  beforeEach(async () => {
    out = await mkdtemp(join(tmpdir(), 'flux-results-'));
  });
  afterEach(async () => {
    await rm(out, { recursive: true, force: true });
  });
  const shortened = `data:image/png;base64,... (${EXAMPLE_IMAGE.length} characters)`;

  test("an image saved into out: a 'Saved:' note and one resource_link with its media type, size and path, though Save Image's path names the same file", async () => {
    const file = join(out, imageFileName(await fetchImage(EXAMPLE_IMAGE)));
    const result = await blockResult(
      'SaveImageBlock',
      [
        ['data_uri', EXAMPLE_IMAGE],
        ['path', file],
      ],
      { maxImageBytes: 0, out },
    );
    expect(result.content).toEqual([
      {
        type: 'text',
        text: `SaveImageBlock finished.\ndata_uri: ${shortened}\npath: ${file}\nSaved: ${resolve(file)}`,
      },
      { type: 'text', text: JSON.stringify({ data_uri: shortened, path: file }) },
      {
        type: 'resource_link',
        uri: `flux-blocks://out/${imageFileName(await fetchImage(EXAMPLE_IMAGE))}`,
        name: imageFileName(await fetchImage(EXAMPLE_IMAGE)),
        mimeType: 'image/png',
        description: `Full-size image saved to ${resolve(file)} (3x2 px)`,
      },
    ]);
  });

  test("Save Image's path into out is linked as it is, with the media type of its extension", async () => {
    const names = ['0123456789abcdef.png', '0123456789abcdef.jpg', '0123456789abcdef.webp', '0123456789abcdef.bin'];
    const result = await graphResult(
      {
        outputs: names.map((name, i) => ({ node: `save${i}`, output: 'path', value: join(out, name) })),
        failures: [],
        stopped: [],
        costs: [],
      },
      { maxImageBytes: 1_000_000, out },
    );
    expect(result.content.slice(2)).toEqual(
      names.map((name, i) => ({
        type: 'resource_link',
        uri: `flux-blocks://out/${name}`,
        name,
        mimeType: ['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'][i],
        description: `Full-size image saved to ${resolve(out, name)}`,
      })),
    );
  });

  test('no link or image for a path outside out, a file not named as saved, a path or result that is not a string, an image or saved file in another output, or text that holds a URL', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'flux-elsewhere-'));
    try {
      const outputs = [
        { node: 'a', output: 'path', value: join(elsewhere, '0123456789abcdef.png') },
        { node: 'b', output: 'path', value: join(out, 'cat.png') },
        { node: 'c', output: 'path', value: 42 },
        { node: 'd', output: 'result', value: [EXAMPLE_IMAGE] },
        { node: 'e', output: 'source', value: EXAMPLE_IMAGE },
        { node: 'f', output: 'result', value: 'see https://nowhere.invalid/a.png' },
        { node: 'g', output: 'prompt', value: join(out, '0123456789abcdef.png') },
      ];
      const result = await graphResult(
        { outputs, failures: [], stopped: [], costs: [] },
        { maxImageBytes: 1_000_000, out },
      );
      expect(result.content.map((item) => item.type)).toEqual(['text', 'text']);
      // One line per output, and no note: nothing was read, previewed or saved.
      expect((result.content[0] as { text: string }).text.split('\n')).toHaveLength(1 + outputs.length);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  test('an image that cannot be saved keeps its image item and says why it was not saved', async () => {
    const notADirectory = join(out, 'file');
    await writeFile(notADirectory, 'x');
    const result = await blockResult('SaveImageBlock', [['data_uri', EXAMPLE_IMAGE]], {
      maxImageBytes: 1_000_000,
      out: notADirectory,
    });
    expect(result.content.map((item) => item.type)).toEqual(['text', 'text', 'image']);
    expect((result.content[0] as { text: string }).text).toMatch(
      new RegExp(
        `^SaveImageBlock finished\\.\\ndata_uri: .+\\nCould not save ${shortened.replace(/[.()+]/g, '\\$&')}: .+$`,
      ),
    );
  });
});

describe('previews that fail keep the result', () => {
  test('an image over the byte limit even downscaled: no image item, a note naming the limit', async () => {
    const image = await noise(200, 200);
    const uri = `data:image/png;base64,${image.bytes.toString('base64')}`;
    const result = await blockResult('SaveImageBlock', [['data_uri', uri]], { maxImageBytes: 100 });
    expect(result.content.map((item) => item.type)).toEqual(['text', 'text']);
    expect((result.content[0] as { text: string }).text).toBe(
      `SaveImageBlock finished.\ndata_uri: data:image/png;base64,... (${uri.length} characters)\n` +
        `data:image/png;base64,... (${uri.length} characters) does not fit in 100 bytes even downscaled; no image item.`,
    );
  });

  test('an image that cannot be read: a note with the reason (cut past 200 characters) that says which value is the result', async () => {
    // The refusal of a private address names the URL: its length sets the reason's.
    const refused = (url: string) => fetchImage(url).then(String, (error: Error) => error.message);
    const base = 'http://10.0.0.1/';
    const at200 = `${base}${'a'.repeat(200 - (await refused(base)).length)}`;
    const at201 = `${at200}b`;
    expect(await refused(at200)).toHaveLength(200);
    const notAnImage = 'data:image/png;base64,AAAA';
    const result = await blockResult(
      'ReplicateFluxAdvancedModelBlock',
      [
        ['result', at200],
        ['result', at201],
        ['data_uri', notAnImage],
      ],
      { maxImageBytes: 1_000_000 },
    );
    expect(result.content.map((item) => item.type)).toEqual(['text', 'text']);
    expect((result.content[0] as { text: string }).text.split('\n').slice(4)).toEqual([
      `${at200}: preview left out: the image could not be read (${await refused(at200)}); the URL above is the result.`,
      `${at201}: preview left out: the image could not be read (${(await refused(at201)).slice(0, 200)}...); the URL above is the result.`,
      `data:image/png;base64,... (${notAnImage.length} characters): preview left out: the image could not be read (${await refused(notAnImage)}); the data: URI above is the result.`,
    ]);
  });

  test('a reason over several lines is shown on one line', async () => {
    // The environment's download limiter is the one place a host's own error reaches the note.
    const limiter = () => Promise.reject(new Error('  socket\n\n  hang up  '));
    const result = await blockResult('ReplicateFluxAdvancedModelBlock', [['result', 'https://nowhere.invalid/a.png']], {
      maxImageBytes: 1_000_000,
      fetch: { limiter },
    });
    expect((result.content[0] as { text: string }).text.split('\n').at(-1)).toBe(
      'https://nowhere.invalid/a.png: preview left out: the image could not be read (socket hang up); the URL above is the result.',
    );
  });
});

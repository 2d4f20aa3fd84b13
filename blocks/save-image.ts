import { z } from 'zod';
import { defineBlock, EXAMPLE_IMAGE, field, imageUrl } from '../sdk.js';
import { fetchImage } from '../shared/image/fetch-image.js';
import { writeImage } from '../shared/image/write-image.js';

const inputSchema = z
  .object({
    image: field(
      imageUrl(),
      'The image to keep: an http(s) URL, such as the `result` of an image block (Replicate deletes those after about an hour), or a data: URI.',
      { title: 'Image', placeholder: 'https://replicate.delivery/...', advanced: false },
    ),
    store_as: field(
      z.enum(['file', 'data_uri']).default('file'),
      "file: write it into the host's directory (out/ by default) and yield `path`; data_uri: yield it as a data: URI, written nowhere.",
      { title: 'Store As' },
    ),
  })
  .strict();

const outputSchema = z.object({
  path: z
    .string()
    .describe(
      "Path of the written file: the host's directory and a name from the image's sha256 and format, e.g. out/3f2a9c0d1b7e4a56.png. With store_as file.",
    ),
  data_uri: z.string().describe('The image as a data: URI (base64). With store_as data_uri.'),
  content_type: z.string().describe("The image's media type, read from its bytes, e.g. image/png."),
  width: z.number().int().describe('Image width in px.'),
  height: z.number().int().describe('Image height in px.'),
  error: z
    .string()
    .describe(
      'Why it was not saved: a refused URL or address, a failed download, over the size limit, not an image, or the file could not be written.',
    ),
});

/** Save Image: keeps an image from a URL or data: URI as a local file or a data: URI. */
export const SaveImageBlock = defineBlock({
  id: '247abf79-a340-47e8-a79c-0703e3ebed4c',
  name: 'SaveImageBlock',
  title: 'Save Image',
  description: 'This block saves an image from a URL or data: URI to a local file, or returns it as a data: URI.',
  categories: ['MULTIMEDIA', 'OUTPUT'],
  inputSchema,
  outputSchema,
  documentation: {
    whatItDoes:
      "Keeps an image before its URL expires (Replicate deletes outputs about an hour after a prediction): it downloads the image, checks that it is one, and writes it into the host's directory or returns it as a data: URI, with its content type, width and height.",
    howItWorks:
      "The block fetches http(s) URLs and decodes data: URIs, nothing else. It refuses URLs whose host resolves to a private, loopback or link-local address, checked on the address it connects to, and redirects to such addresses, so a graph cannot reach the host's own network; hosts list origins they trust (the local emulator) in `save.allowedOrigins`. It stops at the size limit (50 MB unless the host sets `save.maxBytes`) and at the run's timeout (the host's `runner.timeoutMs`, 10 minutes by default); in a graph run at most 8 downloads go at once. It reads the format and size from the image's header, and names the file after its content, so saving one image twice writes one file. The directory is the host's `save.dir` (default out/), never a graph input.",
    useCases: [
      'After any image block: keep every generated image on disk, named by content.',
      'Pass an image inline (data: URI) to a block or service that cannot fetch URLs.',
      "Check an image's size and type before sending it on.",
    ],
    tips: [
      "Wire an image block's `result` to `image`; a block that yields several results runs this once per image.",
      "Choose data_uri for small images only: the whole image travels in the graph's outputs.",
    ],
  },
  examples: [
    {
      title: 'An inline image returned as a data: URI',
      input: { image: EXAMPLE_IMAGE, store_as: 'data_uri' },
      outputs: [
        ['data_uri', EXAMPLE_IMAGE],
        ['content_type', 'image/png'],
        ['width', 3],
        ['height', 2],
      ],
    },
    {
      title: 'A file: URL',
      input: { image: 'file:///etc/passwd' },
      outputs: [['error', 'Invalid input: image: must be an http(s) URL or a data:image/... URI']],
    },
  ],
  async *run({ image, store_as }, context) {
    const { maxBytes, allowedOrigins } = context.save ?? {};
    const limits = { maxBytes, allowedOrigins, timeoutMs: context.runner?.timeoutMs, limiter: context.downloads };
    const fetched = await fetchImage(image, limits, context.signal);
    if (store_as === 'file') yield ['path', await writeImage(fetched, context.save?.dir)];
    else yield ['data_uri', `data:${fetched.contentType};base64,${fetched.bytes.toString('base64')}`];
    yield ['content_type', fetched.contentType];
    yield ['width', fetched.width];
    yield ['height', fetched.height];
  },
});

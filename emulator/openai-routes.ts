import type { IncomingMessage } from 'node:http';
import sharp from 'sharp';
import { outputFileUrl } from './files.js';
import type { Answer } from './http.js';
import { newId } from './ids.js';
import { imageSize, renderImage, type ImageSpec, type Size } from './image.js';
import type { EmulatorOptions, Route } from './types.js';

/** The OpenAI-style routes: POST /v1/images/generations, /v1/images/edits and /v1/chat/completions. */
export const OPENAI_ROUTES: readonly Route[] = ['images-generate', 'images-edit', 'chat'];

/** The Flux models the aggregators serve in OpenAI's formats; edits take the Kontext ones only. */
const FLUX_MODELS = [
  'flux-schnell',
  'flux-dev',
  'flux-pro',
  'flux-1.1-pro',
  'flux-1.1-pro-ultra',
  'flux-kontext-pro',
  'flux-kontext-max',
];
const EDIT_MODELS = ['flux-kontext-pro', 'flux-kontext-max'];
/** The aspect ratios the aggregators' edits endpoint takes. */
const RATIOS = ['21:9', '16:9', '4:3', '3:2', '1:1', '2:3', '3:4', '9:16', '9:21'];
const MAX_OUTPUTS = 10_000;

/** An OpenAI-style error: answered as `{"error": {"message", "type", "param", "code"}}`. */
class OpenAiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** OpenAI's error body for a status, as injected faults answer on these routes. */
export function openAiErrorAnswer(
  status: number,
  message: string,
  type = status >= 500 ? 'server_error' : 'invalid_request_error',
  param: string | null = null,
  code: string | null = null,
): Answer {
  return { status, body: { error: { message, type, param, code } } };
}

const invalid = (param: string, message: string) => new OpenAiError(400, message, 'invalid_request_error', param);

/** A multipart body's fields, with each file part as `{filename, type, bytes}`: how edits are recorded. */
export async function formSummary(
  contentType: string | undefined,
  raw: Buffer,
): Promise<Record<string, unknown> | undefined> {
  const form = await readForm(contentType, raw).catch(() => undefined);
  if (!form) return undefined;
  // A Map: the client names the fields, and `__proto__` or `constructor` is a name like any other.
  const summary = new Map<string, unknown[]>();
  for (const [name, value] of form) {
    const entry =
      typeof value === 'string'
        ? value
        : { filename: (value as Blob & { name?: string }).name, type: value.type, bytes: value.size };
    const values = summary.get(name);
    if (values) values.push(entry);
    else summary.set(name, [entry]);
  }
  return Object.fromEntries(
    [...summary].map(([name, values]) => [name, name.startsWith('image') || values.length > 1 ? values : values[0]]),
  );
}

function readForm(contentType: string | undefined, raw: Buffer): Promise<FormData> {
  return new Request('http://emulator/', {
    method: 'POST',
    headers: { 'content-type': contentType ?? '' },
    body: raw,
  }).formData();
}

/**
 * Flux through OpenAI's formats, as API aggregators serve it: image generations (JSON), edits
 * (multipart, Flux Kontext Pro and Max, one or more `image` parts, `aspect_ratio` or `size`),
 * and chat completions answering a markdown image link. Images are the emulator's placeholder
 * pictures (png), served as output files for `retentionMs`, or inline as `b64_json` when asked.
 * Errors are OpenAI's: 401 `invalid_api_key`, 400 naming `param`, 404 `model_not_found`, 429
 * `rate_limit_exceeded` with `Retry-After`, and with `insufficientCredit` 429 `insufficient_quota`.
 */
export class OpenAiRoutes {
  private readonly outputs = new Map<string, { readonly specs: readonly ImageSpec[]; readonly createdAt: number }>();

  constructor(
    private readonly options: EmulatorOptions,
    private readonly baseUrl: () => string,
    /** The rate limits' wait for a create of this token, in ms, or undefined when it may go now. */
    private readonly throttle: (token: string) => number | undefined,
  ) {}

  /** Image `index` of output `id`, while it is kept. */
  image(id: string, index: number): ImageSpec | undefined {
    const output = this.outputs.get(id);
    if (output && Date.now() - output.createdAt > (this.options.retentionMs ?? 3_600_000)) this.outputs.delete(id);
    return this.outputs.get(id)?.specs[index];
  }

  /** Answers one request of an OpenAI-style route; every failure as OpenAI's error body. */
  async handle(req: IncomingMessage, route: Route, raw: Buffer): Promise<Answer> {
    try {
      const wait = this.throttle(this.authorize(req.headers.authorization));
      if (wait !== undefined) {
        const seconds = Math.max(1, Math.ceil(wait / 1000));
        throw new OpenAiError(
          429,
          `Rate limit reached for requests. Please try again in ${seconds}s.`,
          'requests',
          null,
          'rate_limit_exceeded',
          { 'Retry-After': String(seconds) },
        );
      }
      if (this.options.insufficientCredit) {
        throw new OpenAiError(
          429,
          'You exceeded your current quota, please check your plan and billing details.',
          'insufficient_quota',
          null,
          'insufficient_quota',
        );
      }
      if (route === 'images-edit') return await this.edit(req.headers['content-type'], raw);
      const body = parseBody(raw);
      return route === 'chat' ? await this.chat(body) : await this.generate(body);
    } catch (error) {
      if (!(error instanceof OpenAiError))
        return openAiErrorAnswer(500, `The server had an error while processing your request: ${String(error)}`);
      return {
        ...openAiErrorAnswer(error.status, error.message, error.type, error.param, error.code),
        headers: error.headers,
      };
    }
  }

  private authorize(header: string | undefined): string {
    const token = /^Bearer (.+)$/.exec(header ?? '')?.[1]?.trim();
    if (!token)
      throw new OpenAiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        'invalid_request_error',
      );
    if (this.options.token !== undefined && token !== this.options.token) {
      throw new OpenAiError(
        401,
        `Incorrect API key provided: ${token.slice(0, 3)}***${token.slice(-4)}.`,
        'invalid_request_error',
        null,
        'invalid_api_key',
      );
    }
    return token;
  }

  /** POST /v1/images/generations: `model`, `prompt`, `n`, `size` (`WxH`) or the aggregators' `aspect_ratio`, `response_format`. */
  private async generate(body: Record<string, unknown>): Promise<Answer> {
    const { model, prompt, n, format } = common(body, FLUX_MODELS);
    const size =
      body.size !== undefined
        ? parseSize(body.size)
        : body.aspect_ratio !== undefined
          ? imageSize(ratioOf(body.aspect_ratio))
          : { width: 1024, height: 1024 };
    return this.answer(model, prompt, n, size, format);
  }

  /** POST /v1/images/edits (multipart): as generations, with one or more `image` (or `image[]`) parts. */
  private async edit(contentType: string | undefined, raw: Buffer): Promise<Answer> {
    const form = await readForm(contentType, raw).catch(() => {
      throw invalid('image', 'The request body must be multipart/form-data.');
    });
    // No prototype: a field the client names `__proto__` or `constructor` is only a field.
    const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [name, value] of form)
      if (typeof value === 'string') fields[name] = /^n$/.test(name) ? Number(value) : value;
    const { model, prompt, n, format } = common(fields, EDIT_MODELS);
    const images = [...form.getAll('image'), ...form.getAll('image[]')].filter(
      (part) => typeof part !== 'string',
    ) as Array<Blob & { name?: string }>;
    if (!images.length) throw invalid('image', "Missing required parameter: 'image'.");
    const sizes = await Promise.all(
      images.map(async (part, i) => {
        const { width, height } = await sharp(Buffer.from(await part.arrayBuffer()))
          .metadata()
          .catch(() => ({ width: 0, height: 0 }));
        if (!width || !height)
          throw invalid(
            `image[${i}]`,
            `Invalid image file: ${part.name || `part ${i}`} is not a png, jpeg, webp or gif image.`,
          );
        return { width, height };
      }),
    );
    const size =
      fields.aspect_ratio !== undefined
        ? imageSize(ratioOf(fields.aspect_ratio))
        : fields.size !== undefined
          ? imageSize(nearestRatio(parseSize(fields.size)))
          : imageSize(sizes[0]!.width / sizes[0]!.height);
    return this.answer(model, prompt, n, size, format);
  }

  /** POST /v1/chat/completions with a Flux model: the last user message is the prompt; the answer is a markdown image. */
  private async chat(body: Record<string, unknown>): Promise<Answer> {
    const model = modelOf(body.model, FLUX_MODELS);
    const messages = Array.isArray(body.messages)
      ? (body.messages as Array<{ role?: unknown; content?: unknown }>)
      : [];
    const last = messages.filter((m) => m?.role === 'user').at(-1)?.content;
    const prompt =
      typeof last === 'string'
        ? last
        : Array.isArray(last)
          ? last.map((p: { text?: unknown }) => (typeof p?.text === 'string' ? p.text : '')).join('\n')
          : '';
    if (!prompt.trim()) throw invalid('messages', 'messages must hold a user message with text.');
    const [url] = this.store(model, prompt, 1, { width: 1024, height: 1024 });
    return {
      status: 200,
      body: {
        id: `chatcmpl-${newId()}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: `Here is your image:\n\n![image](${url})` },
            finish_reason: 'stop',
          },
        ],
        usage: { prompt_tokens: prompt.length, completion_tokens: 20, total_tokens: prompt.length + 20 },
      },
    };
  }

  /** An `ImagesResponse` of `n` images: file URLs, or the png bytes as `b64_json`. */
  private async answer(model: string, prompt: string, n: number, size: Size, format: string): Promise<Answer> {
    const urls = this.store(model, prompt, n, size);
    const data =
      format === 'b64_json'
        ? await Promise.all(
            urls.map(async (_, i) => ({
              b64_json: (await renderImage(spec(model, prompt, i, size))).toString('base64'),
            })),
          )
        : urls.map((url) => ({ url }));
    return { status: 200, body: { created: Math.floor(Date.now() / 1000), data } };
  }

  /** Keeps `n` images of one request as output files; their URLs. */
  private store(model: string, prompt: string, n: number, size: Size): string[] {
    const id = newId();
    const specs = Array.from({ length: n }, (_, i) => spec(model, prompt, i, size));
    this.outputs.set(id, { specs, createdAt: Date.now() });
    if (this.outputs.size > MAX_OUTPUTS) this.outputs.delete(this.outputs.keys().next().value!);
    return specs.map((_, i) => outputFileUrl(this.baseUrl(), id, i, 'png'));
  }
}

function spec(model: string, prompt: string, index: number, { width, height }: Size): ImageSpec {
  return { format: 'png', width, height, quality: 100, key: `${model}\n${prompt}\n${index}` };
}

function parseBody(raw: Buffer): Record<string, unknown> {
  try {
    const body: unknown = JSON.parse(raw.toString('utf8'));
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new OpenAiError(
    400,
    'We could not parse the JSON body of your request. The body must be a JSON object.',
    'invalid_request_error',
  );
}

/** The fields generations and edits share, checked as OpenAI checks them. */
function common(body: Record<string, unknown>, models: readonly string[]) {
  const model = modelOf(body.model, models);
  if (typeof body.prompt !== 'string' || !body.prompt.trim())
    throw invalid('prompt', "Missing required parameter: 'prompt'.");
  const n = body.n ?? 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10)
    throw invalid('n', `Invalid 'n': expected an integer from 1 to 10, got ${JSON.stringify(n)}.`);
  const format = body.response_format ?? 'url';
  if (format !== 'url' && format !== 'b64_json')
    throw invalid(
      'response_format',
      `Invalid 'response_format': expected 'url' or 'b64_json', got ${JSON.stringify(format)}.`,
    );
  return { model, prompt: body.prompt, n, format };
}

function modelOf(model: unknown, allowed: readonly string[]): string {
  if (typeof model !== 'string' || !model) throw invalid('model', 'You must provide a model parameter.');
  if (!FLUX_MODELS.includes(model))
    throw new OpenAiError(
      404,
      `The model \`${model}\` does not exist or you do not have access to it.`,
      'invalid_request_error',
      'model',
      'model_not_found',
    );
  if (!allowed.includes(model))
    throw invalid('model', `${model} does not take images: edits take ${allowed.join(' or ')}.`);
  return model;
}

function parseSize(size: unknown): Size {
  const match = /^(\d+)x(\d+)$/.exec(String(size));
  const [width, height] = [Number(match?.[1]), Number(match?.[2])];
  if (!match || width < 256 || height < 256 || width > 2048 || height > 2048) {
    throw invalid(
      'size',
      `Invalid 'size': expected WIDTHxHEIGHT with each side 256 to 2048 px, got ${JSON.stringify(size)}.`,
    );
  }
  return { width, height };
}

function ratioOf(ratio: unknown): string {
  if (typeof ratio !== 'string' || !RATIOS.includes(ratio))
    throw invalid(
      'aspect_ratio',
      `Invalid 'aspect_ratio': expected one of ${RATIOS.join(', ')}, got ${JSON.stringify(ratio)}.`,
    );
  return ratio;
}

/** The listed aspect ratio closest to a size's, as the aggregators turn an edit's `size` into a ratio. */
function nearestRatio({ width, height }: Size): string {
  const distance = (ratio: string) => {
    const [w, h] = ratio.split(':').map(Number) as [number, number];
    return Math.abs(Math.log(w / h) - Math.log(width / height));
  };
  return RATIOS.reduce((best, ratio) => (distance(ratio) < distance(best) ? ratio : best));
}

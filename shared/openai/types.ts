import { z } from 'zod';

/** `url` (default): links the provider hosts, mostly for about an hour; `b64_json`: the image bytes in the answer. */
export type ResponseFormat = 'url' | 'b64_json';

/**
 * The JSON body of `POST {baseUrl}/images/generations` (OpenAI's Images API, as aggregators
 * serve Flux): sent as given, fields left undefined are left out.
 */
export interface GenerateRequest {
  /** e.g. `flux-dev`. */
  readonly model: string;
  readonly prompt: string;
  /** Images to make, 1-10 in OpenAI's API. */
  readonly n?: number;
  /** `WIDTHxHEIGHT` in px, e.g. `1024x768`. */
  readonly size?: string;
  readonly response_format?: ResponseFormat;
}

/** An image file sent as one `image` part of a multipart edit. */
export interface ImagePart {
  readonly blob: Blob;
  /** e.g. `image-1.png`; providers read the type from the part's content type and name. */
  readonly filename: string;
}

/**
 * A multipart `POST {baseUrl}/images/edits`: the fields of {@link GenerateRequest}, the
 * aggregators' `aspect_ratio` (e.g. `16:9`, which they prefer to `size`), and one `image` part
 * per reference image.
 */
export interface EditRequest extends GenerateRequest {
  readonly aspect_ratio?: string;
  /** One or more reference images, in order. */
  readonly images: readonly ImagePart[];
}

/** A `POST {baseUrl}/chat/completions` with one user message; image links are read from the answer's text. */
export interface ChatRequest {
  readonly model: string;
  /** The user message's text. */
  readonly content: string;
}

/** One image the provider made. */
export interface GeneratedImage {
  /** Its URL (temporary at most providers: about an hour), or a `data:` URI of a `b64_json` answer. */
  readonly url: string;
  /** The prompt the provider ran, when it says (OpenAI's `revised_prompt`). */
  readonly revisedPrompt?: string;
}

/** OpenAI's `ImagesResponse`: `data` holds one entry per image, with `url` or `b64_json`. */
export const imagesResponseSchema = z.object({
  created: z.number().optional(),
  data: z.array(
    z.object({
      url: z.string().nullish(),
      b64_json: z.string().nullish(),
      revised_prompt: z.string().nullish(),
    }),
  ),
});

/** The part of a chat completion read here: the first choice's message text (a string, or text parts). */
export const chatResponseSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({
          content: z.union([
            z.string(),
            z.array(z.object({ type: z.string(), text: z.string().optional() })),
            z.null(),
          ]),
        }),
      }),
    )
    .min(1),
});

/** OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`. */
export const errorBodySchema = z.object({
  error: z.object({
    message: z.string().nullish(),
    type: z.string().nullish(),
    param: z.string().nullish(),
    code: z.union([z.string(), z.number()]).nullish(),
  }),
});

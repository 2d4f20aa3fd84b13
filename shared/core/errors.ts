/**
 * Every kind of failure a block reports, with what it means and what to do about it. The
 * advice ends each error message of that kind (input errors name their fields instead), and
 * `docs/errors.md` is generated from this table.
 */
export const ERROR_KINDS = {
  invalid_input: {
    title: 'Invalid input',
    means:
      'An input field, the credentials or a runner option is missing, of the wrong type or out of range. Nothing was sent to Replicate.',
    advice: 'Fix the fields the message names.',
  },
  unauthorized: {
    title: 'Invalid API token (401, 403)',
    means: 'Replicate refused the API token, or the token may not run this model.',
    advice: 'Check the Replicate API token: that it is current and may run this model.',
  },
  not_found: {
    title: 'Model or prediction not found (404)',
    means: 'No such model, version or prediction at this base URL.',
    advice: 'Check the model name (owner/name or version id) and the base URL.',
  },
  invalid_version: {
    title: 'Invalid version or not permitted (422)',
    means:
      'Replicate knows no such model version, or this account may not run it (a private model of another account, a deleted version).',
    advice:
      "Check the version id (64 hex characters, from the model's Versions tab) and that the account of this API token may run the model.",
  },
  insufficient_credit: {
    title: 'Insufficient credit (402)',
    means: 'The Replicate account has too little credit to run the model. Nothing was created and nothing is retried.',
    advice:
      'Add credit or a payment method at https://replicate.com/account/billing, wait a few minutes, then run it again.',
  },
  request_rejected: {
    title: 'Request refused (400, 413)',
    means:
      'Replicate refused the request itself as too large or unreadable, before creating anything; the message names the largest input.',
    advice: 'Make the named input smaller: pass a large image as an http(s) URL instead of inline data, or shrink it.',
  },
  rejected_input: {
    title: 'Input rejected by the model (422)',
    means: "The model's own input schema refused the input; the message lists each field and why.",
    advice: "Fix the listed fields; the model's page on Replicate gives its limits.",
  },
  rate_limited: {
    title: 'Rate limited beyond the timeout (429)',
    means:
      "The API throttles this token and the next free slot comes after the run's timeout; shorter waits are waited out. Replicate allows 600 prediction creates and 3000 other requests per minute, less for accounts low on credit; an OpenAI-compatible provider sets its own limits.",
    advice:
      'Run fewer predictions at once, raise the runner timeout, or top up credit or ask the provider (Replicate or the OpenAI-compatible API) for higher limits.',
  },
  model_failed: {
    title: 'Model failed',
    means: "The prediction ended `failed`; the message gives Replicate's error text.",
    advice: "Run it again; if it keeps failing, change the input or read the prediction's logs on Replicate.",
  },
  safety_filter: {
    title: 'Blocked by the safety filter (NSFW)',
    means: "The model's safety checker flagged the prompt, an input image or the output.",
    advice: 'Change the prompt or input image, or raise safety_tolerance where the model takes it.',
  },
  canceled: {
    title: 'Canceled',
    means: 'The prediction was canceled by someone else (the Replicate dashboard, another client) before it finished.',
    advice: 'Run it again if that was not meant.',
  },
  aborted: {
    title: 'Aborted before it started',
    means:
      "The prediction's deadline (its Cancel-After header) passed while it was still queued, typically behind a cold or busy model.",
    advice: 'Run it again, with a longer runner timeout.',
  },
  timed_out: {
    title: 'Timed out',
    means: 'The run did not end within the runner timeout (the message gives it in ms); the prediction was canceled.',
    advice: 'Raise the runner timeout (timeoutMs) or pick a faster model.',
  },
  host_aborted: {
    title: 'Stopped by the host',
    means: 'The program running the block aborted the run (its AbortSignal); the prediction was canceled.',
    advice: 'Nothing to fix in the block; run it again when needed.',
  },
  output_deleted: {
    title: 'Output already deleted',
    means:
      'The prediction succeeded, but Replicate had already deleted its output: it deletes the outputs of API predictions an hour after they end.',
    advice: 'Run the prediction again, and save its output soon after it is made.',
  },
  unreachable: {
    title: 'Replicate API unreachable',
    means: 'No connection to the base URL (refused, reset, DNS failure) or no answer in time.',
    advice: 'Check the network and the base URL, then run it again.',
  },
  bad_response: {
    title: 'Not a Replicate answer',
    means:
      "The base URL answered with something that is not JSON, or not a prediction: often a login page or a proxy's own error page.",
    advice: 'Check that the base URL points at the Replicate API or a compatible proxy (ending in /v1).',
  },
  api_error: {
    title: 'Replicate API error',
    means: 'Any other HTTP error, such as a 5xx that went on after retries.',
    advice: 'Run it again later; if it persists, check status.replicate.com.',
  },
  refused_url: {
    title: 'URL refused',
    means:
      "The Save Image block fetches only http(s) URLs and data: URIs, and no URL (or redirect) that leads to a private, loopback or link-local address, so a graph cannot reach into the host's own network.",
    advice:
      'Pass a public http(s) URL or a data: URI; a host that trusts a local server (an emulator, a proxy) lists its origin in allowedOrigins.',
  },
  too_large: {
    title: 'Image too large',
    means: 'The image is over the size limit (50 MB unless the host sets maxBytes); the download was stopped there.',
    advice: "Use a smaller image, or raise the host's maxBytes.",
  },
  download_timed_out: {
    title: 'Download timed out',
    means:
      "The image download did not end within the run's timeout (the runner's timeoutMs, default 10 minutes; the message gives it in ms): the server answered too slowly or not at all.",
    advice:
      'Check that the image URL answers promptly, or raise the runner timeout (timeoutMs) for large or slow downloads.',
  },
  download_failed: {
    title: 'Download failed',
    means:
      'The image URL answered with an HTTP error, too many redirects, or the connection failed. Replicate answers 404 for outputs it deleted (an hour after the prediction).',
    advice: 'Check the URL; for a Replicate output, run the prediction again and save its result sooner.',
  },
  not_an_image: {
    title: 'Not an image',
    means: 'The bytes are not an image in a format the block reads (jpeg, png, webp, gif, avif, tiff).',
    advice: 'Pass the URL or data: URI of an image file.',
  },
  write_failed: {
    title: 'Could not write the file',
    means: "The image could not be written to the host's directory.",
    advice: 'Check that the directory exists or can be created, is writable, and the disk has room.',
  },
  provider_unauthorized: {
    title: 'API key refused by the provider (401, 403)',
    means:
      'The OpenAI-compatible provider refused the API key (credentials of provider `openai_compatible`), or the key may not use this model.',
    advice:
      "Check the provider's API key: that it is current, belongs to this base URL's provider and may use this model.",
  },
  provider_rejected: {
    title: 'Request refused by the provider (400, 404, 413, 422)',
    means:
      'The OpenAI-compatible provider refused the request before making anything: a parameter (named when the provider names it), an unknown model, or an endpoint it does not offer.',
    advice:
      'Fix the named parameter; check the model name, that the base URL ends in /v1, and that the provider offers this api (images or chat) for the model.',
  },
  provider_quota: {
    title: 'Provider quota or credit exhausted (402, 429 insufficient_quota)',
    means: 'The account of the OpenAI-compatible provider has no credit or quota left. Nothing is retried.',
    advice: 'Top up the account at the provider, then run it again.',
  },
  provider_error: {
    title: 'Provider API error',
    means:
      'The OpenAI-compatible provider answered with another HTTP error (such as a 5xx) or with something that is not its JSON. A failed image request is never sent again: the first may still be billed.',
    advice:
      "Run it again later; if it persists, check the provider's status page and that the base URL points at its OpenAI-compatible API (ending in /v1).",
  },
  no_image: {
    title: 'No image in the answer',
    means:
      'The provider answered without any image: an images answer with no `data` entries, or a chat answer whose text holds no image link (markdown image or URL); the message quotes the start of the text.',
    advice:
      'Check that the model makes images at this provider through this api (images or chat), or change the prompt.',
  },
  internal: {
    title: 'Internal error',
    means: "A bug in a block or in the host's callback.",
    advice: 'Report it with the message.',
  },
} as const satisfies Record<string, { title: string; means: string; advice: string }>;

/** A kind of failure, e.g. `rate_limited`. */
export type ErrorKind = keyof typeof ERROR_KINDS;

/**
 * A failure a person can act on: bad input, a Replicate API error, a failed, canceled or
 * timed-out prediction. Its message is `detail` followed by the kind's advice (except for
 * `invalid_input`, whose detail names the fields to fix). The block framework turns it into
 * the block's `error` output.
 */
export class BlockError extends Error {
  override name = 'BlockError';

  constructor(
    readonly kind: ErrorKind,
    readonly detail: string,
  ) {
    super(kind === 'invalid_input' ? detail : `${detail.replace(/\.$/, '')}. ${ERROR_KINDS[kind].advice}`);
  }
}

/**
 * What stopped a run, for messages: the host's abort reason when it gave one (a string, or an
 * Error's message, e.g. `interrupted (Ctrl-C)`), `stopped by the host's timeout` for
 * `AbortSignal.timeout`, else `stopped by the host`. Messages read
 * `The run was <this>`, so a reason is best a past participle.
 */
export function stoppedBy(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  if (reason === undefined || reason === null) return 'stopped by the host';
  // By shape, not instanceof: the reason may come from another realm (jest's VM modules).
  const { name, message } = reason as { name?: unknown; message?: unknown };
  // abort() without a reason gives a DOMException named AbortError: no reason of the host's.
  if (name === 'AbortError') return 'stopped by the host';
  // AbortSignal.timeout(ms) gives one named TimeoutError, whose message is no past participle.
  if (name === 'TimeoutError') return "stopped by the host's timeout";
  return (typeof message === 'string' ? message : String(reason)).trim() || 'stopped by the host';
}

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

/** An HTTP error answered as Replicate's problem detail (`{title, detail, status, ...extra}`). */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

/** An HTTP answer before it is sent (or replaced by a fault). */
export interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly type?: string;
  readonly headers?: Record<string, string>;
}

/** A field Replicate's 422 names: `input.<name>`, a type such as `required`, and why. */
export interface InvalidField {
  readonly field: string;
  readonly type: string;
  readonly description: string;
}

/**
 * Replicate's 422 `Input validation failed`, listing each field in `invalid_fields` and in
 * `detail` (`- input.num_inference_steps: Must be less than or equal to 4`, a line each).
 */
export function invalid(fields: readonly InvalidField[]): Problem {
  return new Problem(422, 'Input validation failed', fields.map((f) => `- ${f.field}: ${f.description}`).join('\n'), {
    invalid_fields: fields,
  });
}

/** A problem as Replicate's `application/problem+json` answer: `{title, detail, status, ...extra}`. */
export function problemAnswer(problem: Problem): Answer {
  return {
    status: problem.status,
    body: { title: problem.title, detail: problem.detail, status: problem.status, ...problem.extra },
    type: 'application/problem+json',
  };
}

/** Any thrown value as an answer: a {@link Problem} as itself, anything else as a 500. */
export function errorAnswer(error: unknown): Answer {
  return problemAnswer(error instanceof Problem ? error : new Problem(500, 'Internal Server Error', String(error)));
}

/** Sends an answer (JSON unless `type` says otherwise) with its length; does nothing once the response has ended. */
export function reply(res: ServerResponse, { status, body, type = 'application/json', headers = {} }: Answer): void {
  if (res.writableEnded || res.destroyed) return;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': bytes.length }).end(bytes);
}

/** The request's body, up to `maxBytes`. @throws {Problem} 413 over `maxBytes`. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes)
      throw new Problem(413, 'Content Too Large', `Request bodies must be at most ${maxBytes} bytes.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A body as JSON, or undefined when it is empty. @throws {Problem} 400 for bad JSON. */
export function parseJson(body: Buffer): unknown {
  if (!body.length) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new Problem(400, 'Bad Request', 'The request body is not valid JSON.');
  }
}

/** Headers as recorded: the token never stays in the emulator's memory. */
export function redactAuthorization(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  if (headers.authorization === undefined) return { ...headers };
  return {
    ...headers,
    authorization: headers.authorization.replace(
      /^(\S+\s+).*$|^.*$/s,
      (_, scheme: string | undefined) => `${scheme ?? ''}[REDACTED]`,
    ),
  };
}

/** Seconds from `Prefer: wait` or `wait=n` (1-60), or undefined when not asked. Source: `parameters_prefer_header`. */
export function preferWait(header: string | undefined): number | undefined {
  if (!header) return undefined;
  const match = /^\s*wait(?:=(\d+))?\s*$/.exec(header);
  if (!match) return undefined;
  const seconds = match[1] === undefined ? 60 : Number(match[1]);
  if (seconds < 1 || seconds > 60)
    throw new Problem(400, 'Bad Request', 'Prefer: wait=n takes n from 1 to 60 seconds.');
  return seconds;
}

/** Milliseconds from a `Cancel-After` duration (`30`, `90s`, `5m`, `1h30m45s`), at least 5 s. Source: `parameters_cancel_after_header`. */
export function cancelAfter(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?$/.exec(String(header).trim());
  const ms =
    match && match[0]
      ? ((Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0)) * 60 + Number(match[3] ?? 0)) * 1000
      : NaN;
  if (!(ms >= 5000))
    throw new Problem(400, 'Bad Request', 'Cancel-After must be a duration of at least 5s, e.g. 30s, 5m or 1h30m.');
  return ms;
}

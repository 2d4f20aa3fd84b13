import { createHash } from 'node:crypto';
import { invalid, Problem, type Answer } from './http.js';
import { newId } from './ids.js';

/** Files must be under this size, in bytes (100 MB). Source: the 413 of POST /v1/files in Replicate's OpenAPI spec. */
export const MAX_FILE_BYTES = 100_000_000;
/** How long an uploaded file lives, in ms: an hour, as in the spec's example file object. */
const FILE_LIFETIME_MS = 3_600_000;
const MAX_FILES = 1000;

interface StoredFile {
  readonly id: string;
  readonly name: string;
  readonly contentType: string;
  readonly bytes: Buffer;
  readonly metadata: Record<string, unknown>;
  readonly createdAt: Date;
}

/**
 * Replicate's Files API (POST /v1/files, GET and DELETE /v1/files/{id}, GET
 * /v1/files/{id}/download), in memory. Files answer with Replicate's file object
 * (`schemas_file_response`); their `urls.get` is accepted as a model input.
 */
export class FilesApi {
  private readonly files = new Map<string, StoredFile>();

  constructor(private readonly baseUrl: () => string) {}

  /** POST /v1/files: a multipart form with `content` (required), `filename`, `type` and `metadata` (JSON). */
  async upload(contentType: string | undefined, body: Buffer): Promise<Answer> {
    let form: FormData;
    try {
      form = await new Request('http://emulator/', {
        method: 'POST',
        headers: { 'content-type': contentType ?? '' },
        body,
      }).formData();
    } catch {
      throw new Problem(400, 'Bad Request', 'The request body is not a multipart/form-data form.');
    }
    const content = form.get('content');
    if (!(content instanceof Blob))
      throw invalid([{ field: 'content', type: 'required', description: 'content is required' }]);
    if (content.size >= MAX_FILE_BYTES)
      throw new Problem(413, 'Content Too Large', 'Files must be less than 100MB in size');
    const name = stringField(form, 'filename') ?? ((content as File).name || 'file');
    if (Buffer.byteLength(name) > 255)
      throw invalid([{ field: 'filename', type: 'string_lte', description: 'filename must be at most 255 bytes' }]);
    let metadata: Record<string, unknown> = {};
    const rawMetadata = stringField(form, 'metadata');
    if (rawMetadata !== undefined) {
      try {
        metadata = JSON.parse(rawMetadata) as Record<string, unknown>;
      } catch {
        throw invalid([{ field: 'metadata', type: 'invalid_type', description: 'metadata must be valid JSON' }]);
      }
    }
    const file: StoredFile = {
      id: newId(),
      name,
      contentType: stringField(form, 'type') ?? (content.type || 'application/octet-stream'),
      bytes: Buffer.from(await content.arrayBuffer()),
      metadata,
      createdAt: new Date(),
    };
    this.files.set(file.id, file);
    if (this.files.size > MAX_FILES) this.files.delete(this.files.keys().next().value!);
    return { status: 201, body: this.object(file) };
  }

  /** GET /v1/files/{id}: the file object. */
  get(id: string): Answer {
    return { status: 200, body: this.object(this.find(id)) };
  }

  /** GET /v1/files/{id}/download: the file's bytes. */
  download(id: string): Answer {
    const file = this.find(id);
    return { status: 200, body: file.bytes, type: file.contentType };
  }

  /** DELETE /v1/files/{id}: 204. */
  delete(id: string): Answer {
    this.find(id);
    this.files.delete(id);
    return { status: 204, body: Buffer.alloc(0) };
  }

  /** The bytes behind one of this emulator's file URLs (`urls.get`), or undefined for any other URL. */
  bytesOf(url: string): Buffer | undefined {
    const prefix = `${this.baseUrl()}/files/`;
    return url.startsWith(prefix) ? this.live(url.slice(prefix.length).split('/')[0]!)?.bytes : undefined;
  }

  private find(id: string): StoredFile {
    const file = this.live(id);
    if (!file) throw new Problem(404, 'Not found', `File ${id} was not found.`);
    return file;
  }

  private live(id: string): StoredFile | undefined {
    const file = this.files.get(id);
    if (file && Date.now() - file.createdAt.getTime() > FILE_LIFETIME_MS) this.files.delete(id);
    return this.files.get(id);
  }

  private object(file: StoredFile): Record<string, unknown> {
    return {
      id: file.id,
      name: file.name,
      content_type: file.contentType,
      size: file.bytes.length,
      checksums: {
        sha256: createHash('sha256').update(file.bytes).digest('hex'),
        md5: createHash('md5').update(file.bytes).digest('hex'),
      },
      metadata: file.metadata,
      created_at: file.createdAt.toISOString(),
      expires_at: new Date(file.createdAt.getTime() + FILE_LIFETIME_MS).toISOString(),
      urls: { get: `${this.baseUrl()}/files/${file.id}` },
    };
  }
}

function stringField(form: FormData, name: string): string | undefined {
  const value = form.get(name);
  if (typeof value === 'string') return value;
  return undefined;
}

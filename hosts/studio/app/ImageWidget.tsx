// An image input: a URL or a link as before, or a file from disk (picked, or dropped on the field), with a thumbnail.
import { useState, type DragEvent } from 'react';
import type { WidgetProps } from '@rjsf/utils';
import { MAX_UPLOAD_BYTES } from '../protocol.js';
import { uploadImage } from './api.js';

/** Where the page can show an image input's value: a URL or data: URI as it is, a kept upload (`uploads/x.png`) under /files/. */
export function thumbnailOf(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.trim()) return undefined;
  if (/^(https?:|data:image\/)/i.test(value)) return value;
  return /^uploads\/[\w.-]+$/.test(value) ? `/files/${value}` : undefined;
}

/**
 * The text field of an image input with "File..." beside it: a chosen or dropped file is sent to
 * the studio (`POST /api/uploads`, at most {@link MAX_UPLOAD_BYTES}) and the field then names it
 * (`uploads/<name>`); the server reads it into the run. A file over the limit is refused here, naming it.
 */
export function ImageWidget({ id, value, onChange, placeholder, disabled, readonly }: WidgetProps) {
  const [note, setNote] = useState<string>();
  const [over, setOver] = useState(false);
  const off = disabled || readonly;

  async function take(file: File | undefined) {
    if (!file) return;
    if (file.size > MAX_UPLOAD_BYTES) {
      setNote(
        `${file.name} is ${file.size} bytes, over the ${MAX_UPLOAD_BYTES}-byte (10 MiB) limit: use a smaller image or its URL`,
      );
      return;
    }
    setNote(`Sending ${file.name}...`);
    const answer = await uploadImage(file).catch((error: Error) => ({ error: error.message }));
    if ('error' in answer) return setNote(`${file.name}: ${answer.error}`);
    setNote(undefined);
    onChange(answer.path);
  }

  const onDrop = (e: DragEvent) => {
    if (off || e.dataTransfer.files.length === 0) return;
    e.preventDefault();
    e.stopPropagation();
    setOver(false);
    void take(e.dataTransfer.files[0]);
  };
  const thumbnail = thumbnailOf(value);
  return (
    <div
      className={`image-input${over ? ' drop-over' : ''}`}
      data-testid={`image-${id}`}
      onDragOver={(e) => {
        if (off || !e.dataTransfer.types.includes('Files')) return;
        e.preventDefault();
        e.stopPropagation();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
    >
      <div className="image-row">
        <input
          id={id}
          type="text"
          className="form-control"
          value={typeof value === 'string' ? value : ''}
          placeholder={placeholder || 'https://... or drop an image file'}
          disabled={disabled}
          readOnly={readonly}
          onChange={(e) => onChange(e.target.value === '' ? undefined : e.target.value)}
        />
        <label className={`file-button${off ? ' disabled' : ''}`} title="Choose an image file (jpeg, png, gif, webp)">
          File...
          <input
            type="file"
            accept="image/png,image/jpeg,image/gif,image/webp"
            hidden
            disabled={off}
            data-testid={`file-${id}`}
            onChange={(e) => {
              const chosen = e.target.files?.[0];
              e.target.value = '';
              void take(chosen);
            }}
          />
        </label>
      </div>
      {note && (
        <p className="image-note" data-testid={`image-note-${id}`}>
          {note}
        </p>
      )}
      {thumbnail && <img className="thumbnail" src={thumbnail} alt={`${id} image`} data-testid={`thumbnail-${id}`} />}
    </div>
  );
}

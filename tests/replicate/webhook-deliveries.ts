import { connect, type Socket } from 'node:net';
import { signWebhook } from '../../shared/replicate/webhook-signature.js';

/** The signing secret of the receivers under test. */
export const SECRET = `whsec_${Buffer.from('a test secret of 24 bytes').toString('base64')}`;

/** Now, in epoch seconds, as `webhook-timestamp` has it. */
export const now = (): number => Math.floor(Date.now() / 1000);

let ids = 0;

/** A delivery: its raw body and the headers Replicate sends with it. */
export interface Delivery {
  readonly body: string;
  readonly headers: Record<string, string>;
}

/**
 * A delivery of prediction `predictionId` (succeeded), signed with `secret` at `timestamp` (epoch s);
 * `bytes` pads its `logs` so the body is exactly that long (in bytes).
 */
export function delivery(
  predictionId: string,
  { secret = SECRET, timestamp = now(), bytes }: { secret?: string; timestamp?: number; bytes?: number } = {},
): Delivery {
  const base = { id: predictionId, status: 'succeeded', output: ['https://example.com/out.webp'], logs: '' };
  const unpadded = JSON.stringify(base);
  const body = bytes === undefined ? unpadded : JSON.stringify({ ...base, logs: 'x'.repeat(bytes - unpadded.length) });
  return signed(body, { secret, timestamp });
}

/** `body` signed as a delivery with a fresh `webhook-id`. */
export function signed(body: string, { secret = SECRET, timestamp = now() } = {}): Delivery {
  const id = `msg_${process.pid}_${++ids}`;
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(secret, id, timestamp, body),
    },
  };
}

/** A status and headers (names in lower case) as a sender read them off the wire. */
export interface Answer {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
}

/**
 * A request written byte by byte on its own connection, as a sender that controls its pace
 * (a head without its body, a chunked body) does. `answer` resolves with the first answer's head,
 * or rejects when the connection closes before one; `closed` resolves when the connection closes.
 */
export interface RawExchange {
  readonly socket: Socket;
  readonly answer: Promise<Answer>;
  readonly closed: Promise<void>;
  write(text: string): void;
}

/**
 * Opens a connection to `url` and writes a request's head: its request line and `headers`, then the
 * blank line that ends them unless `endHead` is false (headers that stall).
 */
export function rawRequest(url: string, method: string, headers: Record<string, string>, endHead = true): RawExchange {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
  socket.on('error', () => {});
  let text = '';
  const answer = new Promise<Answer>((resolve, reject) => {
    socket.on('data', (chunk) => {
      text += String(chunk);
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
      const fields = lines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
      });
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine!)![1]), headers: new Map(fields) });
    });
    socket.on('close', () => reject(new Error(`connection closed without an answer (got ${JSON.stringify(text)})`)));
  });
  answer.catch(() => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const lines = Object.entries({ host: `${hostname}:${port}`, ...headers }).map(([name, value]) => `${name}: ${value}`);
  socket.write(`${method} / HTTP/1.1\r\n${lines.join('\r\n')}\r\n${endHead ? '\r\n' : ''}`);
  return { socket, answer, closed, write: (more) => void socket.write(more) };
}

/** `body` as one HTTP/1.1 chunk per `size` bytes, and the last chunk. */
export function chunked(body: string, size: number): string {
  const bytes = Buffer.from(body);
  let out = '';
  for (let at = 0; at < bytes.length; at += size) {
    const part = bytes.subarray(at, at + size);
    out += `${part.length.toString(16)}\r\n${part.toString('latin1')}\r\n`;
  }
  return `${out}0\r\n\r\n`;
}

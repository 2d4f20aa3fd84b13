// A markdown image `![alt](url "title")`, or a bare http(s) URL or data:image URI.
const MARKDOWN_IMAGE = /!\[[^\]]*\]\(\s*<?([^\s)>]+)>?(?:\s+"[^"]*")?\s*\)/g;
const BARE_URL = /\b(?:https?:\/\/[^\s<>"'()[\]]+|data:image\/[\w.+-]+;base64,[A-Za-z0-9+/=]+)/g;

/**
 * The image links in a chat answer's text, in order, each once: its markdown images when it
 * has any, else its bare http(s) URLs (and `data:image/...;base64,` URIs), without trailing
 * punctuation. Aggregators that serve Flux through chat completions answer with such text.
 */
export function imageLinks(text: string): string[] {
  const markdown = [...text.matchAll(MARKDOWN_IMAGE)].map((m) => m[1]!);
  const links = markdown.length ? markdown : [...text.matchAll(BARE_URL)].map((m) => m[0].replace(/[.,;:!?]+$/, ''));
  return [...new Set(links)].filter((link) => /^(https?:\/\/|data:image\/)/.test(link));
}

/** The start of a text for an error message: its first `max` characters on one line, quoted. */
export function quoteStart(text: string, max = 200): string {
  return `"${excerpt(text, max)}"`;
}

/** The start of a text for an error message: its first `max` characters on one line, `…` when cut. */
export function excerpt(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

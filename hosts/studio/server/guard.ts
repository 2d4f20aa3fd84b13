import { timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';

/** Who may call the studio. */
export interface GuardOptions {
  /** The session token printed with the URL. */
  readonly token: string;
  /** `host:port` values the Host header may carry, lowercase; read per request, as the port is known only after listening. */
  readonly hosts: () => ReadonlySet<string>;
  /** Name of the HttpOnly cookie holding the token; per port, as cookies do not tell ports apart. */
  readonly cookie: () => string;
}

/**
 * The studio's gate, in order:
 * - Host must be one of `hosts()` (a DNS-rebinding page reaches us under its own name): 403;
 * - Origin, when sent, must be `http://` + one of them, and every request but GET and HEAD must
 *   send it (browsers do on any cross-site or state-changing request): 403;
 * - `?token=<session token>` sets the HttpOnly, SameSite=Strict cookie and redirects (303) to the
 *   same path without it, so the token leaves the address bar and history, as Jupyter does;
 * - every other request needs that cookie: 401.
 * Tokens are compared in constant time.
 */
export function guard({ token, hosts, cookie }: GuardOptions): MiddlewareHandler {
  const expected = Buffer.from(token);
  const matches = (given: string | undefined) =>
    given !== undefined &&
    Buffer.byteLength(given) === expected.length &&
    timingSafeEqual(Buffer.from(given), expected);
  return async (c, next) => {
    const allowed = hosts();
    // Names are case-insensitive; the allowlist is lowercase.
    if (!allowed.has(c.req.header('host')?.toLowerCase() ?? '')) return c.text('Forbidden: unknown Host', 403);
    const origin = c.req.header('origin')?.toLowerCase();
    if (
      origin !== undefined
        ? !(origin.startsWith('http://') && allowed.has(origin.slice('http://'.length)))
        : !['GET', 'HEAD'].includes(c.req.method)
    ) {
      return c.text('Forbidden: foreign or missing Origin', 403);
    }
    const query = c.req.query('token');
    if (query !== undefined) {
      if (!matches(query)) return c.text('Unauthorized: wrong token; open the URL flux-blocks studio printed', 401);
      setCookie(c, cookie(), token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      const url = new URL(c.req.url);
      url.searchParams.delete('token');
      return c.redirect(url.pathname + url.search, 303);
    }
    if (!matches(getCookie(c, cookie())))
      return c.text('Unauthorized: open the URL with ?token= that flux-blocks studio printed', 401);
    await next();
  };
}

// The studio's model search and model forms: the page asks here, the server asks Replicate with its token.
import { Hono, type Context } from 'hono';
import { BlockError } from 'replicate-flux-blocks/shared/core/errors.js';
import { redact } from 'replicate-flux-blocks/shared/core/redact.js';
import { replicateClient } from 'replicate-flux-blocks/shared/framework/replicate-client.js';
import { searchModels } from 'replicate-flux-blocks/shared/replicate/search.js';
import type { HostEnvironment } from '../../environment/environment.js';
import {
  DEFAULT_MODEL_HITS,
  MAX_MODEL_HITS,
  MAX_MODEL_QUERY_CHARS,
  type ModelForm,
  type ModelHits,
} from '../protocol.js';
import { modelForm } from './model-form.js';

/** Bound on one search or model lookup, in ms: a person waits on it. */
export const LOOKUP_TIMEOUT_MS = 30_000;
/** An owner's or a model's name on Replicate. */
const NAME = /^[\w.-]{1,100}$/;

/**
 * The routes, behind the studio's guard like every other:
 * - `GET /api/models?query=&limit=` searches Replicate's models ({@link ModelHits}); 400 for no
 *   query, one over {@link MAX_MODEL_QUERY_CHARS} characters or a limit outside 1-{@link MAX_MODEL_HITS}
 *   (default {@link DEFAULT_MODEL_HITS}), before any request;
 * - `GET /api/models/{owner}/{name}` a model's latest version and its input form ({@link ModelForm});
 *   400 for a name that is no Replicate name; for a model Replicate does not know, 200 and
 *   `{error}`: a refusal is this call's answer, not its failure (as `POST /api/check`), so the
 *   browser logs nothing while a name is being typed.
 * Replicate's other failures are 502 with their message. The token never leaves: messages are
 * redacted, and only these shapes are sent.
 */
export function modelRoutes(environment: HostEnvironment): Hono {
  const token = environment.context.credentials?.apiKey;
  const client = () =>
    replicateClient({
      ...environment.context,
      runner: { ...environment.context.runner, timeoutMs: LOOKUP_TIMEOUT_MS },
    });
  const app = new Hono();
  app.get('/api/models', async (c) => {
    const query = (c.req.query('query') ?? '').trim();
    if (!query) return refuse(c, 400, 'query: give the words to search for, e.g. ?query=flux');
    if (query.length > MAX_MODEL_QUERY_CHARS)
      return refuse(
        c,
        400,
        `query: ${query.length} characters is over the studio's ${MAX_MODEL_QUERY_CHARS}-character limit: use fewer words`,
      );
    const limitText = c.req.query('limit');
    const limit = limitText === undefined ? DEFAULT_MODEL_HITS : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_MODEL_HITS)
      return refuse(c, 400, `limit: must be a whole number from 1 to ${MAX_MODEL_HITS}`);
    try {
      const hits = await searchModels(client(), query, { limit, signal: c.req.raw.signal });
      return c.json({ hits } satisfies ModelHits);
    } catch (error) {
      return failed(c, error);
    }
  });
  app.get('/api/models/:owner/:name', async (c) => {
    const { owner, name } = c.req.param();
    if (!NAME.test(owner) || !NAME.test(name))
      return refuse(c, 400, 'model: must be owner/name as on replicate.com, e.g. black-forest-labs/flux-schnell');
    try {
      const model = await client().getModel(`${owner}/${name}`, { signal: c.req.raw.signal });
      return c.json(modelForm(model) satisfies ModelForm);
    } catch (error) {
      if (error instanceof BlockError && error.kind === 'not_found')
        return refuse(c, 200, `No model ${owner}/${name} on Replicate: check its name, or search for it`);
      return failed(c, error);
    }
  });
  return app;

  function refuse(c: Context, status: 200 | 400 | 502, message: string) {
    return c.json({ error: redact(message, token) }, status);
  }

  /** A BlockError as 502 with its message; anything else is the server's own failure (500). */
  function failed(c: Context, error: unknown) {
    if (!(error instanceof BlockError)) throw error;
    return refuse(c, error.kind === 'invalid_input' ? 400 : 502, error.message);
  }
}

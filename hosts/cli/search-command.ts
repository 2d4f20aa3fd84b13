import { replicateClient } from 'replicate-flux-blocks/shared/framework/replicate-client.js';
import { MAX_SEARCH_LIMIT, searchModels, type ModelHit } from 'replicate-flux-blocks/shared/replicate/search.js';
import { openEnvironment } from '../environment/environment.js';
import { onStopSignals } from '../environment/signals.js';
import { baseUrlOf, countOf, parseFlags, timeoutOf, UsageError } from './flags.js';

/** Longest description printed on a line, in characters. */
const DESCRIPTION_CHARS = 80;

/**
 * `flux-blocks search QUERY... [--json] [--limit N]`: prints one line per model found
 * (`owner/name  description  N runs`), or with --json one JSON object per line.
 * @returns the exit status: 0, or 1 when the search failed (its message on stderr).
 */
export async function searchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    'search',
    args,
    {
      json: { type: 'boolean' },
      limit: { type: 'string' },
      'base-url': { type: 'string' },
      'timeout-ms': { type: 'string' },
    },
    true,
  );
  const query = positionals.join(' ').trim();
  if (!query) throw new UsageError('search takes the words to search for, e.g. flux-blocks search flux lora');
  const limit = countOf('limit', values.limit) ?? 20;
  if (limit > MAX_SEARCH_LIMIT) throw new UsageError(`--limit takes at most ${MAX_SEARCH_LIMIT}`);
  const environment = await openEnvironment({
    baseUrl: baseUrlOf(values['base-url']),
    timeoutMs: timeoutOf(values['timeout-ms']),
  });
  const controller = new AbortController();
  const stopListening = onStopSignals((signal) =>
    controller.abort(signal === 'SIGINT' ? 'interrupted (Ctrl-C)' : 'terminated (SIGTERM)'),
  );
  try {
    const hits = await searchModels(replicateClient(environment.context), query, { limit, signal: controller.signal });
    for (const hit of hits) console.log(values.json ? JSON.stringify(hit) : line(hit));
    if (!hits.length && !values.json) console.error(`No models found for "${query}".`);
    return 0;
  } catch (error) {
    console.error(`flux-blocks: ${(error as Error).message}`);
    return 1;
  } finally {
    stopListening();
    await environment.close();
  }
}

/** `owner/name  description (trimmed, one line)  N runs`. */
function line({ model, description, runCount }: ModelHit): string {
  const oneLine = description.replace(/\s+/g, ' ').trim();
  const trimmed = oneLine.length > DESCRIPTION_CHARS ? `${oneLine.slice(0, DESCRIPTION_CHARS - 1)}…` : oneLine;
  const runs = runCount === undefined ? '' : `  ${runCount.toLocaleString('en-US')} runs`;
  return `${model}  ${trimmed}${runs}`;
}

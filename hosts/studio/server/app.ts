import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { BlockError } from 'replicate-flux-blocks/shared/core/errors.js';
import { checkGraph, GraphError } from 'replicate-flux-blocks/shared/graph/check-graph.js';
import { describeEstimate, describeTotal, estimateGraph } from 'replicate-flux-blocks/shared/graph/estimate.js';
import { withLocalImages } from 'replicate-flux-blocks/shared/graph/local-images.js';
import { withCredentials, graphWithCredentials, type HostEnvironment } from '../../environment/environment.js';
import {
  MAX_GRAPH_BYTES,
  MAX_UPLOAD_BYTES,
  MAX_UPLOADS_FOLDER_BYTES,
  type CostEstimate,
  type CredentialsChoice,
  type Example,
  type GraphProblem,
  type StudioInfo,
} from '../protocol.js';
import { guard, type GuardOptions } from './guard.js';
import { Runs } from './runs.js';
import { studioBlocks } from './blocks.js';
import { withModelUploads } from './model-uploads.js';
import { modelRoutes } from './models.js';
import { saveUpload, UploadsFull } from './uploads.js';

/** Largest request body accepted, in bytes: a graph, with room for inline (data: URI) images (4 MiB). */
export const MAX_BODY_BYTES = MAX_GRAPH_BYTES;

/** Everything the studio's HTTP app serves from. */
export interface StudioAppOptions extends GuardOptions {
  readonly registry: BlockRegistry;
  readonly environment: HostEnvironment;
  /** Absolute out directory: Save Image and previews write here; `/files/` serves only from here. */
  readonly outDir: string;
  /** Absolute directory of the built page (index.html, main.js, main.css). */
  readonly publicDir: string;
  /** Absolute directory of the example graphs (`*.json`). */
  readonly examplesDir: string;
  /** Most bytes `<outDir>/uploads/` may hold; default {@link MAX_UPLOADS_FOLDER_BYTES} (1 GiB). */
  readonly maxUploadsBytes?: number;
}

/**
 * The studio's HTTP app (Hono): the guard ({@link guard}), then
 * - `GET /api/info` where runs go and the keys by name; `GET /api/blocks` the manifest;
 *   `GET /api/examples` the example graphs;
 * - `POST /api/check` a graph (`{ok: true}`, or `{ok: false}` with the {@link GraphProblem});
 *   `POST /api/estimate` its worst-case cost (`{ok: true, estimate}`, {@link CostEstimate}, or the problem);
 *   `POST /api/runs` starts one (201 `{id}`, or 422 and the problem); `GET /api/runs/:id/events`
 *   its events over SSE;
 *   `POST /api/runs/:id/cancel` cancels it (202);
 * - `GET /api/models?query=` searches Replicate's models; `GET /api/models/{owner}/{name}` a
 *   model's input form ({@link modelRoutes});
 * - `POST /api/uploads` an image (the raw bytes, at most {@link MAX_UPLOAD_BYTES}) kept in the out
 *   directory's `uploads/` (201 {@link Upload}; 413 over the limit, 422 for no image, 507 when the folder holds `maxUploadsBytes`); graphs name it by
 *   that path, read as a local image (a `data:` URI) before each check and run;
 * - `GET /files/<name>` a file of the out directory; anything else, the page.
 * Other bodies over {@link MAX_BODY_BYTES} get 413.
 */
export function createStudioApp(options: StudioAppOptions): { app: Hono; runs: Runs } {
  const { registry, environment, outDir } = options;
  const runs = new Runs({
    registry,
    context: { ...environment.context, save: { ...environment.context.save, dir: outDir } },
    outDir,
  });
  const info: StudioInfo = {
    target: environment.description,
    embedded: environment.embedded !== undefined,
    credentials: credentialsChoices(registry, environment),
  };
  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    // 'unsafe-eval': the forms validate with Ajv, which compiles schemas with new Function.
    c.header(
      'Content-Security-Policy',
      "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    );
  });
  app.use('*', guard(options));
  const graphLimit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: (c) => c.json({ error: `Request body over ${MAX_BODY_BYTES} bytes` }, 413, { Connection: 'close' }),
  });
  const uploadLimit = bodyLimit({
    maxSize: MAX_UPLOAD_BYTES,
    onError: (c) =>
      c.json(
        {
          error: `The image is over ${MAX_UPLOAD_BYTES} bytes (10 MiB), the studio's limit: make it smaller or give its URL`,
        },
        413,
        { Connection: 'close' },
      ),
  });
  app.use('/api/*', (c, next) => (c.req.path === '/api/uploads' ? uploadLimit(c, next) : graphLimit(c, next)));

  app.get('/api/info', (c) => c.json(info));
  const blocks = studioBlocks(registry);
  app.get('/api/blocks', (c) => c.json(blocks));
  app.get('/api/examples', async (c) => {
    const files = (await readdir(options.examplesDir)).filter((file) => file.endsWith('.json')).sort();
    const examples: Example[] = await Promise.all(
      files.map(async (file) => ({
        file,
        graph: JSON.parse(await readFile(join(options.examplesDir, file), 'utf8')) as Example['graph'],
      })),
    );
    return c.json(examples);
  });
  app.post('/api/uploads', async (c) => {
    try {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      return c.json(await saveUpload(bytes, outDir, options.maxUploadsBytes ?? MAX_UPLOADS_FOLDER_BYTES), 201);
    } catch (error) {
      if (error instanceof UploadsFull) return c.json({ error: `Not kept: ${error.message}` }, 507);
      if (!(error instanceof BlockError)) throw error;
      return c.json({ error: `Not kept: ${error.detail}` }, 422);
    }
  });
  app.post('/api/check', async (c) => {
    try {
      checkGraph(await graphOf(c), registry);
      return c.json({ ok: true });
    } catch (error) {
      // A refusal is this call's answer, not its failure: 200, so browsers log nothing.
      return c.json({ ok: false, ...problemOf(error) });
    }
  });
  app.post('/api/estimate', async (c) => {
    try {
      return c.json({ ok: true, estimate: costEstimate(await graphOf(c), registry) });
    } catch (error) {
      return c.json({ ok: false, ...problemOf(error) });
    }
  });
  app.post('/api/runs', async (c) => {
    try {
      return c.json({ id: runs.start(await graphOf(c)).id }, 201);
    } catch (error) {
      return c.json(problemOf(error), 422);
    }
  });
  app.get('/api/runs/:id/events', (c) => {
    const run = runs.get(c.req.param('id'));
    if (!run) return c.json({ error: 'No such run' }, 404);
    const from = Number(c.req.header('last-event-id') ?? -1) + 1;
    return streamSSE(c, async (stream) => {
      // Events are read from the run's log; a new one only wakes this loop.
      let next = Number.isInteger(from) && from > 0 ? from : 0;
      let wake: (() => void) | undefined;
      let aborted = false;
      const unsubscribe = run.subscribe(() => wake?.());
      stream.onAbort(() => {
        aborted = true;
        wake?.();
      });
      try {
        while (!aborted && !(run.done && next >= run.events.length)) {
          for (; next < run.events.length; next += 1) {
            const event = run.events[next]!;
            await stream.writeSSE({ event: event.type, id: String(next), data: JSON.stringify(event) });
          }
          if (!run.done) await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        unsubscribe();
      }
    });
  });
  app.post('/api/runs/:id/cancel', (c) => {
    const run = runs.get(c.req.param('id'));
    if (!run) return c.json({ error: 'No such run' }, 404);
    run.cancel();
    return c.json({ canceled: !run.done }, 202);
  });
  app.route('/', modelRoutes(environment));
  app.all('/api/*', (c) => c.json({ error: 'Not found' }, 404));

  // Only the out directory's files, by name: serveStatic refuses '..', '//' and backslashes.
  app.use('/files/*', serveStatic({ root: outDir, rewriteRequestPath: (path) => path.slice('/files'.length) }));
  app.all('/files/*', (c) => c.text('Not found', 404));
  app.use('/*', serveStatic({ root: options.publicDir }));
  return { app, runs };

  /**
   * The request's graph with the studio's key filled in, and images sent from the page (paths in
   * the out directory, in image fields or an any-model node's input) read into `data:` URIs.
   * @throws {GraphError} naming the node whose image is missing or no image.
   */
  async function graphOf(c: Context): Promise<unknown> {
    const graph = await c.req.json().catch(() => undefined);
    const read = await withLocalImages(graphWithCredentials(graph, registry), registry, { allowDir: outDir });
    return withModelUploads(read, registry, outDir);
  }
}

/** The worst-case cost of a graph (credentials filled) as the page shows it. @throws {GraphError} when it cannot run. */
function costEstimate(graph: unknown, registry: BlockRegistry): CostEstimate {
  const estimate = estimateGraph(graph, registry);
  const unknown = new Set(estimate.unknown);
  return {
    total: describeTotal(estimate),
    knownUsd: estimate.knownUsd,
    nodes: describeEstimate(estimate).slice(0, -1),
    unknown: estimate.nodes.filter((n) => unknown.has(n.node)).map(({ node, model }) => ({ node, model })),
  };
}

/** A GraphError as a {@link GraphProblem}; anything else is rethrown. */
function problemOf(error: unknown): GraphProblem {
  if (!(error instanceof GraphError)) throw error;
  const link = error.link && {
    source_id: error.link.source_id,
    source_name: error.link.source_name,
    sink_id: error.link.sink_id,
    sink_name: error.link.sink_name,
  };
  return { error: error.message, node: error.node, link };
}

/**
 * The keys nodes can pick, one per provider of the registry's credentials fields, as the CLI
 * fills them: a name, never the key. Replicate's is always offered (a run without it says so);
 * another provider's only when the host holds its key.
 */
function credentialsChoices(registry: BlockRegistry, environment: HostEnvironment): CredentialsChoice[] {
  const held = environment.context.credentials;
  const byProvider = new Map<string, CredentialsChoice>();
  for (const block of registry.list()) {
    const choice = (withCredentials(block, {}) as { credentials?: CredentialsChoice }).credentials;
    if (
      choice &&
      !byProvider.has(choice.provider) &&
      (choice.provider === 'replicate' || held?.keys?.[choice.provider])
    )
      byProvider.set(choice.provider, choice);
  }
  // Named for what they are: with the embedded emulator there is no real key.
  return [...byProvider.values()].map((choice) =>
    environment.embedded ? { ...choice, title: 'Embedded emulator (no key needed)' } : choice,
  );
}

import { describe, expect, test } from '@jest/globals';
import { ReplicateModelSearchBlock } from '../../blocks/index.js';
import { BlockError } from '../../index.js';
import { searchModels } from '../../shared/replicate/search.js';
import { clientFor, collect, contextFor, CREDENTIALS, errorOf, useEmulator } from '../helpers.js';

const local = useEmulator();
const client = () => clientFor(local.emulator);
const sent = () => local.emulator.requests.map((r) => `${r.method} ${r.path}`);

describe('searchModels', () => {
  test('asks GET /v1/search and reads its models, best first', async () => {
    const hits = await searchModels(client(), 'flux schnell', { limit: 5 });
    expect(hits.map((h) => h.model)).toEqual([
      'black-forest-labs/flux-schnell',
      'black-forest-labs/flux-schnell-lora',
      'lucataco/flux-schnell-lora',
    ]);
    expect(hits[0]).toMatchObject({ description: expect.any(String), runCount: 0, latestVersion: expect.any(String) });
    expect(sent()).toEqual(['GET /v1/search?query=flux+schnell&limit=5']);
  });

  test('a limit keeps the first hits', async () => {
    expect(await searchModels(client(), 'flux', { limit: 1 })).toHaveLength(1);
  });

  test('when the search API answers 404, it asks QUERY /v1/models with the query as text', async () => {
    local.emulator.inject({ route: 'search', answer: { status: 404 } });
    const hits = await searchModels(client(), 'flux schnell');
    expect(hits.map((h) => h.model)).toEqual([
      'black-forest-labs/flux-schnell',
      'black-forest-labs/flux-schnell-lora',
      'lucataco/flux-schnell-lora',
    ]);
    expect(sent()).toEqual(['GET /v1/search?query=flux+schnell&limit=20', 'QUERY /v1/models']);
    expect(local.emulator.requests[1]!.headers['content-type']).toBe('text/plain');
  });

  test('other failures are not hidden by the fallback', async () => {
    local.emulator.inject({ route: 'search', answer: { status: 401 } });
    await expect(searchModels(client(), 'flux')).rejects.toMatchObject({ kind: 'unauthorized' });
    expect(sent()).toEqual(['GET /v1/search?query=flux&limit=20']);
  });

  test.each<[string, number, string]>([
    ['  ', 20, 'query: give the words to search for'],
    ['x'.repeat(501), 20, 'query: 501 characters is over the 500-character limit'],
    ['flux', 51, 'limit: must be a whole number from 1 to 50'],
    ['flux', 0, 'limit: must be a whole number from 1 to 50'],
  ])('%j, limit %d: refused before any request', async (query, limit, message) => {
    const error = await searchModels(client(), query, { limit }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlockError);
    expect((error as BlockError).message).toBe(message);
    expect(sent()).toEqual([]);
  });

  test('an answer that is no list of models is bad_response', async () => {
    local.emulator.inject({ route: 'search', answer: { status: 200, body: { models: 'none' } } });
    await expect(searchModels(client(), 'flux')).rejects.toMatchObject({ kind: 'bad_response' });
  });
});

describe('ReplicateModelSearchBlock', () => {
  test('yields each model found, then the list', async () => {
    const outputs = await collect(
      ReplicateModelSearchBlock,
      { credentials: CREDENTIALS, query: 'schnell', limit: 2 },
      contextFor(local.emulator),
    );
    expect(outputs.map(([name]) => name)).toEqual(['model', 'model', 'models']);
    expect(outputs[0]![1]).toBe('black-forest-labs/flux-schnell');
  });

  test('finds a model trained into through the API only once it is public (none here: trainings make private ones)', async () => {
    const outputs = await collect(
      ReplicateModelSearchBlock,
      { credentials: CREDENTIALS, query: 'lora trainer' },
      contextFor(local.emulator),
    );
    expect(outputs[0]).toEqual(['model', 'ostris/flux-dev-lora-trainer']);
  });

  test('an empty query is an input error, with no request', async () => {
    const outputs = await collect(
      ReplicateModelSearchBlock,
      { credentials: CREDENTIALS, query: ' ' },
      contextFor(local.emulator),
    );
    expect(errorOf(outputs)).toContain('query');
    expect(sent()).toEqual([]);
  });
});

import { expect, test } from '@jest/globals';
import { resolveModel } from '../../shared/replicate/resolve-model.js';
import { clientFor, requestsTo, TOKEN, useEmulator } from '../helpers.js';

// What resolveModel runs for an `owner/name` reference, given what the model lookup
// (GET /v1/models/{owner}/{name}) answers: the latest version, the model by name, or no run at all.
const local = useEmulator();
const LORA = 'lucataco/flux-schnell-lora';

/** The emulator's model object for LORA, with `changes`, answered to the next lookup. */
async function answerLookup(changes: Record<string, unknown>) {
  const response = await fetch(`${local.emulator.url}/models/${LORA}`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  const body = (await response.json()) as Record<string, unknown>;
  local.emulator.inject({ route: 'model', answer: { status: 200, body: { ...body, ...changes } } });
  local.emulator.requests.splice(0);
  return body;
}

test('a model with no published version is not_found, naming it', async () => {
  await answerLookup({ latest_version: null, is_official: false });
  await expect(resolveModel(clientFor(local.emulator), LORA, { prompt: 'x' })).rejects.toMatchObject({
    kind: 'not_found',
    detail: `Model ${LORA} has no published version to run`,
  });
});

test('an official model runs by name, with or without a published version', async () => {
  await answerLookup({ latest_version: null, is_official: true });
  expect(await resolveModel(clientFor(local.emulator), LORA, { prompt: 'x' })).toBe(LORA);
});

test('a version without an openapi_schema is run as its latest version, its input unchecked', async () => {
  const body = await answerLookup({ is_official: false });
  const latest = body.latest_version as { id: string };
  await answerLookup({ is_official: false, latest_version: { ...latest, openapi_schema: null } });
  expect(await resolveModel(clientFor(local.emulator), LORA, { colour: 'red' })).toBe(`${LORA}:${latest.id}`);
});

test('a signal already aborted sends no lookup', async () => {
  const stopped = new AbortController();
  stopped.abort();
  await expect(resolveModel(clientFor(local.emulator), LORA, { prompt: 'x' }, stopped.signal)).rejects.toMatchObject({
    kind: 'host_aborted',
  });
  expect(requestsTo(local.emulator, 'GET', /^\/v1\/models\//)).toHaveLength(0);
});

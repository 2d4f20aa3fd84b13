import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, test } from '@jest/globals';
import { createRegistry } from '../../blocks/index.js';
import { blockInfo, type JsonSchema } from '../../index.js';
import { n8nBlocks } from '../../tools/scripts/n8n-properties.js';
import { ROOT, TOKEN, useEmulator } from '../helpers.js';

// The built package, loaded as n8n loads it: require() of the CommonJS files its package.json names.
const require = createRequire(import.meta.url);
const dist = join(ROOT, 'integrations/n8n/dist');
type Property = {
  name: string;
  type: string;
  options?: Property[] & { value?: string }[];
  displayOptions?: { show?: { operation?: string[] } };
  typeOptions?: Record<string, unknown>;
};
type Description = { properties: Property[]; credentials: { name: string }[]; usableAsTool?: boolean; name: string };
type NodeClass = new () => { description: Description; execute(this: unknown): Promise<unknown[][]> };
const { FluxBlocks } = require(join(dist, 'nodes/FluxBlocks/FluxBlocks.node.js')) as { FluxBlocks: NodeClass };
const { FluxBlocksApi } = require(join(dist, 'credentials/FluxBlocksApi.credentials.js')) as {
  FluxBlocksApi: new () => Record<string, unknown>;
};
const packageJson = require(join(ROOT, 'integrations/n8n/package.json')) as Record<string, unknown> & {
  n8n: { nodes: string[]; credentials: string[] };
};
const blocks = n8nBlocks(createRegistry());
const description = new FluxBlocks().description;

describe('n8n package', () => {
  test('is a community node package whose n8n field names the built node and credential', () => {
    expect(packageJson.name).toMatch(/^n8n-nodes-/);
    expect(packageJson.keywords).toContain('n8n-community-node-package');
    for (const file of [...packageJson.n8n.nodes, ...packageJson.n8n.credentials])
      expect(() => require(join(ROOT, 'integrations/n8n', file))).not.toThrow();
  });

  test('the node is usable as a tool and asks for the Flux Blocks credential', () => {
    expect(description.usableAsTool).toBe(true);
    expect(description.credentials).toEqual([{ name: 'fluxBlocksApi', required: true }]);
  });

  test('one operation per Replicate block; Save Image and the OpenAI-compatible block are left out', () => {
    const operation = description.properties.find((p) => p.name === 'operation')!;
    const values = operation.options!.map((o) => (o as { value?: string }).value);
    expect(values).toEqual(blocks.map((b) => b.name));
    expect(values).not.toContain('SaveImageBlock');
    expect(values).not.toContain('OpenAICompatibleFluxImageBlock');
  });

  test.each(blocks.map((b) => [b.name, b] as const))('%s: a property for each input field', (name, block) => {
    const schema = blockInfo(block).inputSchema as JsonSchema & { properties: Record<string, { advanced?: boolean }> };
    const shown = description.properties.filter((p) => p.displayOptions?.show?.operation?.includes(name));
    const main = shown.filter((p) => p.type !== 'collection').map((p) => p.name);
    const extra = shown.find((p) => p.name === 'additionalFields')?.options?.map((p) => p.name) ?? [];
    const fields = Object.entries(schema.properties).filter(([field]) => field !== 'credentials');
    expect(main).toEqual(fields.filter(([, f]) => !f.advanced).map(([field]) => field));
    expect(extra).toEqual(fields.filter(([, f]) => f.advanced).map(([field]) => field));
  });

  test('enums become options, numbers keep their range', () => {
    const shown = description.properties.filter((p) =>
      p.displayOptions?.show?.operation?.includes('ReplicateFluxAdvancedModelBlock'),
    );
    expect(shown.find((p) => p.name === 'replicate_model_name')!.type).toBe('options');
    const steps = shown.find((p) => p.name === 'additionalFields')!.options!.find((p) => p.name === 'steps')!;
    expect(steps).toMatchObject({ type: 'number', typeOptions: { minValue: 1, maxValue: 50, numberPrecision: 0 } });
  });

  test('the credential sends the token as a bearer token and tests it with GET {baseUrl}/account', () => {
    const credential = new FluxBlocksApi();
    expect(credential.name).toBe('fluxBlocksApi');
    expect(credential.authenticate).toEqual({
      type: 'generic',
      properties: { headers: { Authorization: '=Bearer {{$credentials.apiToken}}' } },
    });
    expect(credential.test).toEqual({ request: { baseURL: '={{$credentials.baseUrl}}', url: '/account' } });
    const baseUrl = (credential.properties as { name: string; default: unknown }[]).find((p) => p.name === 'baseUrl');
    expect(baseUrl?.default).toBe('https://api.replicate.com/v1');
  });
});

describe('n8n node execute() against the emulator', () => {
  const local = useEmulator();

  /** The parts of n8n's IExecuteFunctions the node calls, for one item with `parameters`. */
  function functions(parameters: Record<string, unknown>, token = TOKEN) {
    return {
      getInputData: () => [{ json: {} }],
      getCredentials: async () => ({ apiToken: token, baseUrl: local.emulator.url }),
      getNodeParameter: (name: string, _item: number, fallback: unknown) => parameters[name] ?? fallback,
      getExecutionCancelSignal: () => undefined,
      continueOnFail: () => true,
      getNode: () => ({ name: 'Flux Blocks' }),
      helpers: {
        prepareBinaryData: async (bytes: Buffer, fileName: string, mimeType: string) => ({
          data: bytes.toString('base64'),
          fileName,
          mimeType,
        }),
      },
    };
  }

  test('runs the block, yields the image URL and seed, and downloads the image into binary', async () => {
    const [[item]] = (await new FluxBlocks().execute.call(
      functions({
        operation: 'ReplicateFluxAdvancedModelBlock',
        prompt: 'a lighthouse',
        replicate_model_name: 'Flux Schnell',
        additionalFields: { seed: 7, output_format: 'png' },
      }),
    )) as [[{ json: Record<string, unknown>; binary: Record<string, { mimeType: string; data: string }> }]];
    expect(item.json.error).toBeUndefined();
    expect(item.json.result).toEqual([expect.stringContaining(local.emulator.url.replace(/\/v1$/, ''))]);
    expect(item.json.seed).toBe(7);
    expect(item.binary.data!.mimeType).toBe('image/png');
    expect(Buffer.from(item.binary.data!.data, 'base64').subarray(1, 4).toString()).toBe('PNG');
    expect(local.emulator.requests.find((r) => r.method === 'POST')?.body).toMatchObject({
      input: { prompt: 'a lighthouse', seed: 7, output_format: 'png' },
    });
    expect(JSON.stringify(item.json)).not.toContain(TOKEN);
  });

  test('invalid input fails the item with the field named, before any request', async () => {
    const [[item]] = (await new FluxBlocks().execute.call(
      functions({ operation: 'ReplicateFluxAdvancedModelBlock', prompt: '' }),
    )) as [[{ json: { error?: string } }]];
    expect(item.json.error).toMatch(/prompt/);
    expect(local.emulator.requests).toHaveLength(0);
  });

  test("the credential's test request, GET {baseUrl}/account with the bearer token, is answered", async () => {
    const answer = await fetch(`${local.emulator.url}/account`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ type: 'user', username: expect.any(String) });
    expect((await fetch(`${local.emulator.url}/account`)).status).toBe(401);
  });
});

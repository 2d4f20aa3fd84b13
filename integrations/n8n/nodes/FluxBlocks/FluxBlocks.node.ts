import type {
  IExecuteFunctions,
  INodeExecutionData,
  INodeProperties,
  INodeType,
  INodeTypeDescription,
} from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';
import { blockInput, type PropertyShape } from './block-input';
import generated from './properties.generated.json';

/** The bundled library, relative to this file once built (dist/nodes/FluxBlocks/). */
const LIBRARY: string = '../../lib/flux-blocks.mjs';
type Library = typeof import('replicate-flux-blocks', { with: { 'resolution-mode': 'import' } }) &
  typeof import('replicate-flux-blocks/shared/image/fetch-image.js', { with: { 'resolution-mode': 'import' } });

/** Largest result image the node downloads into `binary`, in bytes (50 MB). */
const MAX_IMAGE_BYTES = 50_000_000;
/** Longest one block run may take, downloads included, in ms (10 minutes, Replicate's default). */
const RUN_TIMEOUT_MS = 600_000;

/**
 * The "Flux Blocks" node: one operation per Replicate block of replicate-flux-blocks, its fields
 * generated from the block's JSON Schema (`npm run schemas` writes properties.generated.json).
 * Each item runs the block once with `runBlock`; the item's `json` gets `result` (the image URLs)
 * and `seed`, its `binary` each image (`data`, `data_1`, ...). A block's `error` output fails the
 * item (or becomes `json.error` with "Continue On Fail").
 */
export class FluxBlocks implements INodeType {
  description: INodeTypeDescription = {
    displayName: 'Flux Blocks',
    name: 'fluxBlocks',
    icon: { light: 'file:fluxBlocks.svg', dark: 'file:fluxBlocks.dark.svg' },
    group: ['transform'],
    version: 1,
    subtitle: '={{$parameter["operation"]}}',
    description: "Generate and edit images with Black Forest Labs' Flux models on Replicate",
    defaults: { name: 'Flux Blocks' },
    inputs: [NodeConnectionTypes.Main],
    outputs: [NodeConnectionTypes.Main],
    usableAsTool: true,
    credentials: [{ name: 'fluxBlocksApi', required: true }],
    properties: generated as INodeProperties[],
  };

  async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
    // The library is ESM-only and bundled (npm run build) into dist/lib/flux-blocks.mjs; this file
    // is CommonJS, so it loads it with a real dynamic import (a variable, so tsc leaves it as is).
    const { registry, runBlock, fetchImage } = (await import(LIBRARY)) as Library;
    const credentials = await this.getCredentials('fluxBlocksApi');
    const apiKey = String(credentials.apiToken ?? '');
    const baseUrl = String(credentials.baseUrl || 'https://api.replicate.com/v1').replace(/\/+$/, '');
    const items = this.getInputData();
    const returned: INodeExecutionData[] = [];
    for (let i = 0; i < items.length; i++) {
      const operation = this.getNodeParameter('operation', i) as string;
      const block = registry.get(operation);
      try {
        if (!block) {
          const message = `operation: unknown block "${operation}"; pick one from the list`;
          throw new NodeOperationError(this.getNode(), message, { itemIndex: i });
        }
        const built = blockInput(generated as PropertyShape[], operation, (name) => this.getNodeParameter(name, i, ''));
        if ('problem' in built) throw new NodeOperationError(this.getNode(), built.problem, { itemIndex: i });
        const { input } = built;
        // The credentials field only names a key; the token itself travels in the context.
        input.credentials = { provider: 'replicate', id: 'n8n', type: 'api_key', title: 'n8n credential' };
        const results: string[] = [];
        const json: Record<string, unknown> = { operation };
        for await (const [name, value] of runBlock(block, input, {
          credentials: { apiKey },
          runner: { baseUrl, timeoutMs: RUN_TIMEOUT_MS },
          signal: this.getExecutionCancelSignal?.(),
        })) {
          if (name === 'error') throw new NodeOperationError(this.getNode(), String(value), { itemIndex: i });
          if (name === 'result') results.push(String(value));
          else json[name] = value;
        }
        json.result = results;
        const binary: INodeExecutionData['binary'] = {};
        for (const [k, url] of results.entries()) {
          // The token's own origin (the emulator on loopback) is trusted; any other must be public.
          const image = await fetchImage(url, {
            maxBytes: MAX_IMAGE_BYTES,
            allowedOrigins: [new URL(baseUrl).origin],
            timeoutMs: RUN_TIMEOUT_MS,
          });
          binary[k === 0 ? 'data' : `data_${k}`] = await this.helpers.prepareBinaryData(
            image.bytes,
            `image_${k}.${image.extension}`,
            image.contentType,
          );
        }
        returned.push({ json: json as INodeExecutionData['json'], binary, pairedItem: { item: i } });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (this.continueOnFail()) {
          returned.push({ json: { error: message }, pairedItem: { item: i } });
          continue;
        }
        throw new NodeOperationError(this.getNode(), message, { itemIndex: i });
      }
    }
    return [returned];
  }
}

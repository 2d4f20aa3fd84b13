import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport, type CallToolResult } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { ReplicateFluxAdvancedModelBlock as block } from 'replicate-flux-blocks/blocks/index.js';
import { startEmulator } from 'replicate-flux-emulator';
import { runBlock } from 'replicate-flux-blocks/shared/framework/run-block.js';
import { openEnvironment } from '../../hosts/environment/environment.js';
import { startMcpHttpServer } from '../../hosts/mcp/http.js';
import { mcpServerFactory } from '../../hosts/mcp/server.js';
import { CLI_BIN } from '../paths.js';

/**
 * What the MCP server adds to a run (issue 14): N sequential Flux Schnell calls against the
 * emulator (predictions of `--prediction-ms`), run directly with runBlock, through the stdio
 * server (spawned CLI) with and without image items, and through Streamable HTTP (2025 era,
 * sessions; 2026-07-28 era, a server per request). Prints median and p90 wall time per call in
 * ms and the image item's size.
 *
 * Measured on the 2-core dev machine, 100 ms predictions, 30 runs: runBlock 108 ms; stdio 108 ms
 * without image items and 241 ms with one (reading the 1248x832 png and re-encoding it at
 * 1024 px costs about 130 ms; the item is 357 kB of base64); HTTP 263 ms (2025 era) and 244 ms
 * (2026-07-28 era) with the image; tools/list over HTTP 3-5 ms.
 *
 * `npm run bench:mcp -- [--runs 30] [--prediction-ms 100]`
 */
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, 'prediction-ms': { type: 'string', default: '100' } },
});
const runs = Number(values.runs);
const predictionMs = Number(values['prediction-ms']);
const BIN = CLI_BIN;
const TOKEN = 'r8_bench_token_0123456789abcdefghijklmnop';
const ARGS = { prompt: 'a lighthouse at dawn', aspect_ratio: '3:2', output_format: 'png' } as const;

const emulator = await startEmulator({ startingMs: predictionMs / 4, processingMs: (predictionMs * 3) / 4 });

async function timed(label: string, once: () => Promise<unknown>): Promise<void> {
  await once(); // warm-up: connections, compiled code
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await once();
    ms.push(performance.now() - start);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!.toFixed(1);
  console.log(`${label.padEnd(44)} median ${at(0.5).padStart(7)} ms   p90 ${at(0.9).padStart(7)} ms`);
}

const environment = await openEnvironment({ baseUrl: emulator.url }, { REPLICATE_API_TOKEN: TOKEN });
const context = { ...environment.context, runner: { ...environment.context.runner, waitSeconds: 1 } };
const credentials = { provider: 'replicate', id: 'bench', type: 'api_key' } as const;
await timed('runBlock directly', async () => {
  for await (const [name, value] of runBlock(block, { credentials, ...ARGS }, context))
    if (name === 'error') throw new Error(String(value));
});

let imageBytes = 0;
async function callTool(client: Client): Promise<void> {
  const result = (await client.callTool({ name: 'replicate_flux_advanced_model', arguments: ARGS })) as CallToolResult;
  if (result.isError) throw new Error(JSON.stringify(result.content));
  const image = result.content.find((item) => item.type === 'image');
  if (image?.type === 'image') imageBytes = image.data.length;
}

for (const extra of [[], ['--max-image-bytes', '0']]) {
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', ...extra],
      env: { PATH: process.env.PATH ?? '', REPLICATE_API_TOKEN: TOKEN, REPLICATE_BASE_URL: emulator.url },
    }),
  );
  await timed(`stdio tools/call ${extra.length ? '(no image items)' : '(image item)'}`, () => callTool(client));
  await client.close();
}
console.log(`image item: ${imageBytes} bytes of base64 for a 1248x832 png, sent as 1024 px on the long side`);

const server = await startMcpHttpServer(mcpServerFactory({ environment }), { port: 0 });
for (const era of ['legacy', 'modern'] as const) {
  const client = new Client(
    { name: 'bench', version: '1' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : undefined,
  );
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
  await timed(`HTTP ${era === 'legacy' ? '2025 era' : '2026-07-28 era'} tools/call (image item)`, () =>
    callTool(client),
  );
  await timed(`HTTP ${era === 'legacy' ? '2025 era' : '2026-07-28 era'} tools/list`, () => client.listTools());
  await client.close();
}
await server.close();
await environment.close();
await emulator.close();

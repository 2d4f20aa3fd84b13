import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { FAST, TOKEN, useEmulator } from '../helpers.js';
import { connectHttp, type Connection } from './connect.js';

const handle = useEmulator({ ...FAST, token: TOKEN });
let out: string;
let connection: Connection | undefined;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'flux-blocks-mcp-prices-'));
  connection = await connectHttp(handle.emulator, out);
});
afterAll(async () => {
  await connection?.close();
  await rm(out, { recursive: true, force: true });
});

test("each Replicate tool's description states the price per call, unknown ones as unknown; Save Image none", async () => {
  const { tools } = await connection!.client.listTools();
  const description = (name: string) => tools.find((tool) => tool.name === name)?.description ?? '';
  const names = tools.map((tool) => tool.name);
  const advanced = names.find((name) => /advanced/i.test(name))!;
  expect(description(advanced)).toContain(
    'Price per call on Replicate: Flux Schnell $0.003 per image (x num_outputs), Flux Pro $0.055 per image, Flux Pro 1.1 $0.04 per image, Flux Dev $0.025 per image (x num_outputs), Flux 1.1 Pro Ultra $0.06 per image (docs/costs.md).',
  );
  expect(description(names.find((name) => /kontext/i.test(name))!)).toContain(
    'Price per call on Replicate: Flux Kontext Pro $0.04 per image, Flux Kontext Max $0.08 per image; unknown for Flux Kontext Dev (docs/costs.md).',
  );
  expect(description(names.find((name) => /save/i.test(name))!)).not.toContain('Price per call');
});

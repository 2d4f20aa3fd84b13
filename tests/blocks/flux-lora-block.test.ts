import { describe, expect, test } from '@jest/globals';
import { ReplicateFluxLoraBlock } from '../../blocks/index.js';
import { collect, contextFor, CREDENTIALS, errorOf, requestsTo, useEmulator } from '../helpers.js';

// The Flux LoRA block: what each LoRA model is sent, and every lora_weights form refused before
// any request.
const local = useEmulator();

async function sent(input: Record<string, unknown>) {
  const outputs = await collect(
    ReplicateFluxLoraBlock,
    { credentials: CREDENTIALS, prompt: 'a castle, frstingln illustration', seed: 3, ...input },
    contextFor(local.emulator),
  );
  const creates = requestsTo(local.emulator, 'POST', /\/predictions$/);
  return { outputs, creates };
}

describe('Flux LoRA: request body per model', () => {
  test('Dev LoRA is sent lora_weights and lora_scale', async () => {
    const { outputs, creates } = await sent({
      lora_weights: 'https://huggingface.co/alvdansen/frosting_lane_flux',
      lora_scale: 0.7,
      num_outputs: 2,
    });
    expect(creates).toHaveLength(1);
    expect(creates[0]!.path).toBe('/v1/models/black-forest-labs/flux-dev-lora/predictions');
    expect((creates[0]!.body as { input: unknown }).input).toEqual({
      prompt: 'a castle, frstingln illustration',
      lora_weights: 'https://huggingface.co/alvdansen/frosting_lane_flux',
      lora_scale: 0.7,
      aspect_ratio: '1:1',
      num_outputs: 2,
      seed: 3,
      output_format: 'webp',
    });
    expect(outputs.filter(([name]) => name === 'result')).toHaveLength(2);
  });

  test('Schnell LoRA with a Replicate model and steps', async () => {
    const { creates } = await sent({ model: 'Flux Schnell LoRA', lora_weights: 'fofr/flux-black-light', steps: 4 });
    expect(creates[0]!.path).toBe('/v1/models/black-forest-labs/flux-schnell-lora/predictions');
    expect((creates[0]!.body as { input: Record<string, unknown> }).input).toMatchObject({
      lora_weights: 'fofr/flux-black-light',
      num_inference_steps: 4,
    });
  });

  test.each([
    'https://huggingface.co/owner/repo/resolve/main/sub/lora.safetensors',
    'huggingface.co/alvdansen/frosting_lane_flux',
    'https://civitai.com/api/download/models/735262?type=Model&format=SafeTensor',
    'https://civitai.com/models/12345/some-style',
    'https://replicate.delivery/yhqm/abc/trained_model.tar',
    'https://replicate.delivery/xezq/abc/lora.safetensors',
    `owner/model:${'a'.repeat(64)}`,
  ])('accepts %s', async (lora_weights) => {
    const { outputs, creates } = await sent({ lora_weights });
    expect(outputs.map(([name]) => name)).toEqual(['result', 'seed']);
    expect((creates[0]!.body as { input: Record<string, unknown> }).input.lora_weights).toBe(lora_weights);
  });

  test('Schnell LoRA refuses steps above 4 and guidance, before any request', async () => {
    const { outputs, creates } = await sent({
      model: 'Flux Schnell LoRA',
      lora_weights: 'fofr/flux-black-light',
      steps: 8,
      guidance: 3,
    });
    expect(errorOf(outputs)).toMatch(/steps: must be <= 4 with Flux Schnell LoRA/);
    expect(errorOf(outputs)).toMatch(/guidance: Flux Schnell LoRA does not take it/);
    expect(creates).toEqual([]);
  });
});

describe('Flux LoRA: lora_weights forms refused before any request', () => {
  test.each([
    ['another host', 'https://example.com/lora.safetensors'],
    ['plain http', 'http://huggingface.co/alvdansen/frosting_lane_flux'],
    ['a Hugging Face file that is not .safetensors', 'https://huggingface.co/owner/repo/resolve/main/lora.bin'],
    ['a Hugging Face page other than a repository', 'https://huggingface.co/owner/repo/tree/main'],
    ['a CivitAI page that is not a model', 'https://civitai.com/user/someone'],
    ['a replicate.delivery file that is not .tar or .safetensors', 'https://replicate.delivery/abc/out-0.webp'],
    ['a bare name', 'frosting_lane_flux'],
    ['a bad version id', 'owner/model:1234'],
    ['credentials in the URL', 'https://user:pw@huggingface.co/owner/repo'],
    ['an overlong value', `owner/${'a'.repeat(3000)}`],
  ])('%s', async (_, lora_weights) => {
    const { outputs, creates } = await sent({ lora_weights });
    expect(errorOf(outputs)).toMatch(/lora_weights: /);
    expect(creates).toEqual([]);
  });

  test("weights on this machine but not at the API's origin: refused, as Replicate could not fetch them", async () => {
    const { outputs, creates } = await sent({ lora_weights: 'http://127.0.0.1:9/weights/abc/trained_model.tar' });
    expect(errorOf(outputs)).toMatch(
      /^lora_weights: http:\/\/127\.0\.0\.1:9 is on this machine, not the Replicate API this block runs against \(http:\/\/127\.0\.0\.1:\d+\)/,
    );
    expect(creates).toEqual([]);
  });

  test('the message gives an example of each form', async () => {
    const { outputs } = await sent({ lora_weights: 'https://example.com/x' });
    expect(errorOf(outputs)).toContain('https://civitai.com/api/download/models/735262');
    expect(errorOf(outputs)).toContain('fofr/flux-black-light');
  });
});

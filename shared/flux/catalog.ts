/**
 * The package's own catalog of the Replicate models its blocks run: each model's input
 * parameters (type, range, enum, default) and output shape.
 *
 * Source: the models' published version schemas (`openapi_schema` of
 * Replicate API: GET /v1/models/{owner}/{name}), as compiled in `flux-models.json` (a copy is in
 * `tests/fixtures/`); `tests/flux/catalog.test.ts` checks this catalog against it. Replicate's
 * own 422 answer stays authoritative when a model publishes a new version.
 */

/** One input parameter of a model. Ranges are inclusive. */
export interface ParamSpec {
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'array';
  readonly required?: boolean;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly enum?: readonly string[];
  readonly default?: string | number | boolean | readonly [];
  readonly format?: 'uri';
  /** For arrays: what each item is. */
  readonly items?: { readonly type: 'string'; readonly format: 'uri' };
}

/** A model's inputs and the shape of its `output`: a list of URIs or a single URI. */
export interface ModelSpec {
  readonly output: 'list' | 'single';
  readonly inputs: Readonly<Record<string, ParamSpec>>;
  /** Highest `safety_tolerance` the model allows with an `input_image` (Flux Kontext Pro and Max: 2). */
  readonly imageSafetyMax?: number;
}

const prompt: ParamSpec = { type: 'string', required: true };
const seed: ParamSpec = { type: 'integer' };
const outputQuality: ParamSpec = { type: 'integer', minimum: 0, maximum: 100, default: 80 };
const webpJpgPng: ParamSpec = { type: 'string', enum: ['webp', 'jpg', 'png'], default: 'webp' };
const uri: ParamSpec = { type: 'string', format: 'uri' };
const safetyTolerance: ParamSpec = { type: 'integer', minimum: 1, maximum: 6, default: 2 };
const promptUpsampling: ParamSpec = { type: 'boolean', default: false };
const disableSafetyChecker: ParamSpec = { type: 'boolean', default: false };
const goFast: ParamSpec = { type: 'boolean', default: true };
const megapixels: ParamSpec = { type: 'string', enum: ['1', '0.25'], default: '1' };
const numOutputs: ParamSpec = { type: 'integer', minimum: 1, maximum: 4, default: 1 };
const openRatios = ['1:1', '16:9', '21:9', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '9:16', '9:21'];
const proRatios = ['custom', '1:1', '16:9', '3:2', '2:3', '4:5', '5:4', '9:16', '3:4', '4:3'];
const customSide: ParamSpec = { type: 'integer', minimum: 256, maximum: 1440 };
const requiredUri: ParamSpec = { type: 'string', format: 'uri', required: true };
const jpgPng = (fallback: 'jpg' | 'png'): ParamSpec => ({ type: 'string', enum: ['jpg', 'png'], default: fallback });
const kontextRatios = [
  'match_input_image',
  '1:1',
  '16:9',
  '9:16',
  '4:3',
  '3:4',
  '3:2',
  '2:3',
  '4:5',
  '5:4',
  '21:9',
  '9:21',
  '2:1',
  '1:2',
];
const kontextPro: ModelSpec = {
  output: 'single',
  inputs: {
    prompt,
    input_image: uri,
    aspect_ratio: { type: 'string', enum: kontextRatios, default: 'match_input_image' },
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 6, default: 2 },
    prompt_upsampling: promptUpsampling,
    seed,
    output_format: jpgPng('png'),
  },
  imageSafetyMax: 2,
};
/** Flux Dev's inputs, which Flux Dev LoRA shares. */
const devInputs = {
  prompt,
  image: uri,
  prompt_strength: { type: 'number', minimum: 0, maximum: 1, default: 0.8 },
  aspect_ratio: { type: 'string', enum: openRatios, default: '1:1' },
  num_outputs: numOutputs,
  num_inference_steps: { type: 'integer', minimum: 1, maximum: 50, default: 28 },
  guidance: { type: 'number', minimum: 0, maximum: 10, default: 3 },
  seed,
  output_format: webpJpgPng,
  output_quality: outputQuality,
  disable_safety_checker: disableSafetyChecker,
  go_fast: goFast,
  megapixels,
} as const satisfies Record<string, ParamSpec>;
const loraWeights: ParamSpec = { type: 'string' };
const loraScale: ParamSpec = { type: 'number', minimum: -1, maximum: 3, default: 1 };
const flux2Side: ParamSpec = { type: 'integer', minimum: 256, maximum: 2048 };
const flux2 = {
  prompt,
  input_images: { type: 'array', items: { type: 'string', format: 'uri' }, default: [] },
  aspect_ratio: {
    type: 'string',
    enum: ['match_input_image', 'custom', '1:1', '16:9', '3:2', '2:3', '4:5', '5:4', '9:16', '3:4', '4:3'],
    default: '1:1',
  },
  resolution: { type: 'string', enum: ['match_input_image', '0.5 MP', '1 MP', '2 MP', '4 MP'], default: '1 MP' },
  width: flux2Side,
  height: flux2Side,
} as const satisfies Record<string, ParamSpec>;
const flux2Tail = {
  safety_tolerance: { type: 'integer', minimum: 1, maximum: 5, default: 2 },
  seed,
  output_format: webpJpgPng,
  output_quality: outputQuality,
} as const satisfies Record<string, ParamSpec>;

/** Flux models by Replicate model reference (`owner/name`, or `owner/name:version` for versions). */
export const MODELS = {
  'black-forest-labs/flux-schnell': {
    output: 'list',
    inputs: {
      prompt,
      aspect_ratio: { type: 'string', enum: openRatios, default: '1:1' },
      num_outputs: numOutputs,
      num_inference_steps: { type: 'integer', minimum: 1, maximum: 4, default: 4 },
      seed,
      output_format: webpJpgPng,
      output_quality: outputQuality,
      disable_safety_checker: disableSafetyChecker,
      go_fast: goFast,
      megapixels,
    },
  },
  'black-forest-labs/flux-dev': { output: 'list', inputs: devInputs },
  'black-forest-labs/flux-pro': {
    output: 'single',
    inputs: {
      prompt,
      image_prompt: uri,
      aspect_ratio: { type: 'string', enum: proRatios, default: '1:1' },
      width: customSide,
      height: customSide,
      steps: { type: 'integer', minimum: 1, maximum: 50, default: 25 },
      guidance: { type: 'number', minimum: 2, maximum: 5, default: 3 },
      interval: { type: 'number', minimum: 1, maximum: 4, default: 2 },
      safety_tolerance: safetyTolerance,
      seed,
      output_format: webpJpgPng,
      output_quality: outputQuality,
      prompt_upsampling: promptUpsampling,
    },
  },
  'black-forest-labs/flux-1.1-pro': {
    output: 'single',
    inputs: {
      prompt,
      image_prompt: uri,
      aspect_ratio: { type: 'string', enum: proRatios, default: '1:1' },
      width: customSide,
      height: customSide,
      safety_tolerance: safetyTolerance,
      seed,
      output_format: webpJpgPng,
      output_quality: outputQuality,
      prompt_upsampling: promptUpsampling,
    },
  },
  'black-forest-labs/flux-1.1-pro-ultra': {
    output: 'single',
    inputs: {
      prompt,
      aspect_ratio: {
        type: 'string',
        enum: ['21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16', '9:21'],
        default: '1:1',
      },
      image_prompt: uri,
      image_prompt_strength: { type: 'number', minimum: 0, maximum: 1, default: 0.1 },
      raw: { type: 'boolean', default: false },
      safety_tolerance: safetyTolerance,
      seed,
      output_format: { type: 'string', enum: ['jpg', 'png'], default: 'jpg' },
    },
  },
  'black-forest-labs/flux-kontext-pro': kontextPro,
  'black-forest-labs/flux-kontext-max': kontextPro,
  'black-forest-labs/flux-kontext-dev': {
    output: 'single',
    inputs: {
      prompt,
      input_image: requiredUri,
      aspect_ratio: { type: 'string', enum: ['match_input_image', ...openRatios], default: 'match_input_image' },
      num_inference_steps: { type: 'integer', minimum: 4, maximum: 50, default: 28 },
      guidance: { type: 'number', minimum: 0, maximum: 10, default: 2.5 },
      go_fast: goFast,
      seed,
      output_format: webpJpgPng,
      output_quality: outputQuality,
      disable_safety_checker: disableSafetyChecker,
    },
  },
  'black-forest-labs/flux-fill-dev': {
    output: 'list',
    inputs: {
      prompt,
      image: requiredUri,
      mask: uri,
      num_outputs: numOutputs,
      num_inference_steps: { type: 'integer', minimum: 1, maximum: 50, default: 28 },
      guidance: { type: 'number', minimum: 0, maximum: 100, default: 30 },
      megapixels: { type: 'string', enum: ['1', '0.25', 'match_input'], default: '1' },
      lora_weights: { type: 'string' },
      lora_scale: { type: 'number', minimum: -1, maximum: 3, default: 1 },
      seed,
      output_format: webpJpgPng,
      output_quality: outputQuality,
      disable_safety_checker: disableSafetyChecker,
    },
  },
  'black-forest-labs/flux-fill-pro': {
    output: 'single',
    inputs: {
      prompt,
      image: requiredUri,
      mask: uri,
      steps: { type: 'integer', minimum: 15, maximum: 50, default: 50 },
      guidance: { type: 'number', minimum: 1.5, maximum: 100, default: 60 },
      outpaint: {
        type: 'string',
        enum: [
          'None',
          'Zoom out 1.5x',
          'Zoom out 2x',
          'Make square',
          'Left outpaint',
          'Right outpaint',
          'Top outpaint',
          'Bottom outpaint',
        ],
        default: 'None',
      },
      safety_tolerance: safetyTolerance,
      prompt_upsampling: promptUpsampling,
      seed,
      output_format: jpgPng('jpg'),
    },
  },
  'black-forest-labs/flux-2-pro': { output: 'single', inputs: { ...flux2, ...flux2Tail } },
  'black-forest-labs/flux-2-max': { output: 'single', inputs: { ...flux2, ...flux2Tail } },
  'black-forest-labs/flux-2-flex': {
    output: 'single',
    inputs: {
      ...flux2,
      steps: { type: 'integer', minimum: 1, maximum: 50, default: 30 },
      guidance: { type: 'number', minimum: 1.5, maximum: 10, default: 4.5 },
      ...flux2Tail,
      prompt_upsampling: { type: 'boolean', default: true },
    },
  },
  // The official LoRA models: Flux Dev and Schnell with `lora_weights` loaded at run time
  // (tests/fixtures/flux-models.json says where each fact comes from).
  'black-forest-labs/flux-dev-lora': {
    output: 'list',
    inputs: { ...devInputs, lora_weights: loraWeights, lora_scale: loraScale },
  },
  'black-forest-labs/flux-schnell-lora': {
    output: 'list',
    inputs: {
      prompt,
      aspect_ratio: { type: 'string', enum: openRatios, default: '1:1' },
      num_outputs: numOutputs,
      num_inference_steps: { type: 'integer', minimum: 1, maximum: 4, default: 4 },
      seed,
      output_format: webpJpgPng,
      output_quality: outputQuality,
      disable_safety_checker: disableSafetyChecker,
      go_fast: goFast,
      megapixels,
      lora_weights: loraWeights,
      lora_scale: loraScale,
    },
  },
  // A community model, run by version id through POST /v1/predictions.
  'lucataco/flux-schnell-lora:2a6b576af31790b470f0a8442e1e9791213fa13799cbb65a9fc1436e96389574': {
    output: 'list',
    inputs: {
      prompt,
      hf_lora: { type: 'string' },
      lora_scale: { type: 'number', default: 0.8 },
      num_outputs: { type: 'integer', default: 1 },
      aspect_ratio: { type: 'string', default: '1:1' },
      output_format: webpJpgPng,
      output_quality: outputQuality,
      prompt_strength: { type: 'number', default: 0.8 },
      num_inference_steps: { type: 'integer', default: 4 },
    },
  },
} as const satisfies Record<string, ModelSpec>;

/** A model reference the catalog knows. */
export type ModelRef = keyof typeof MODELS;

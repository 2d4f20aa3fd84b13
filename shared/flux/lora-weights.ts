/**
 * The forms of `lora_weights` the Flux LoRA models load (Replicate's LoRA guide and the models'
 * input schemas; see `tests/fixtures/flux-models.json`), checked before any request so a typo
 * fails at once instead of after a paid model start.
 */

/** Longest `lora_weights` accepted, in characters; real URLs are far shorter. */
export const MAX_LORA_WEIGHTS_LENGTH = 2048;

/** One example per accepted form, for field help and error messages. */
export const LORA_WEIGHTS_EXAMPLES = [
  'https://huggingface.co/alvdansen/frosting_lane_flux',
  'https://huggingface.co/owner/repo/resolve/main/lora.safetensors',
  'https://civitai.com/api/download/models/735262',
  'https://civitai.com/models/12345',
  'https://replicate.delivery/.../trained_model.tar',
  'fofr/flux-black-light',
] as const;

const SEGMENT = '[A-Za-z0-9][A-Za-z0-9._-]*';
// owner/model, or owner/model:version (a version id is 64 hex digits).
const REPLICATE_MODEL = new RegExp(`^${SEGMENT}/${SEGMENT}(:[0-9a-f]{64})?$`);
const HF_REPO = new RegExp(`^/${SEGMENT}/${SEGMENT}/?$`);
const HF_FILE = new RegExp(`^/${SEGMENT}/${SEGMENT}/resolve/[^/]+/(?:[^/]+/)*[^/]+\\.safetensors$`);
const CIVITAI_DOWNLOAD = /^\/api\/download\/models\/\d+\/?$/;
const CIVITAI_PAGE = /^\/models\/\d+(?:\/[^/]*)?\/?$/;
const DELIVERY_FILE = /^\/.+\.(?:tar|safetensors)$/;

/** Which hosts take which paths; any other host is refused. */
const HOSTS = new Map<string, readonly RegExp[]>([
  ['huggingface.co', [HF_REPO, HF_FILE]],
  ['civitai.com', [CIVITAI_DOWNLOAD, CIVITAI_PAGE]],
  ['replicate.delivery', [DELIVERY_FILE]],
]);

/**
 * Why `value` is not a `lora_weights` the Flux LoRA models load, or undefined when it is one of:
 * a Hugging Face repository or `.safetensors` resolve URL (`huggingface.co/owner/repo`, with or
 * without `https://`), a CivitAI download URL or model page, a `replicate.delivery` `.tar` or
 * `.safetensors` URL, or a Replicate model `owner/model` (optionally `:version`).
 * Only https is accepted for URLs. The reason ends with an example of each form.
 */
export function loraWeightsProblem(value: string): string | undefined {
  if (value.length > MAX_LORA_WEIGHTS_LENGTH) return `must be at most ${MAX_LORA_WEIGHTS_LENGTH} characters`;
  const text = value.trim();
  if (REPLICATE_MODEL.test(text)) return undefined;
  const url = URL.parse(/^[a-z][a-z0-9+.-]*:/i.test(text) ? text : `https://${text}`);
  const paths =
    url && url.protocol === 'https:' && !url.username && !url.password ? HOSTS.get(url.hostname) : undefined;
  if (url && paths?.some((path) => path.test(url.pathname))) return undefined;
  return `is not a LoRA the model can load; use a Hugging Face, CivitAI or replicate.delivery URL or a Replicate owner/model, e.g. ${LORA_WEIGHTS_EXAMPLES.join(', ')}`;
}

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

/** This machine's names: weights there are served by a local Replicate-compatible API (the emulator). */
const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;
const WEIGHTS_FILE = /\.(?:tar|safetensors)$/;

/** Which hosts take which paths; any other host is refused. */
const HOSTS = new Map<string, readonly RegExp[]>([
  ['huggingface.co', [HF_REPO, HF_FILE]],
  ['civitai.com', [CIVITAI_DOWNLOAD, CIVITAI_PAGE]],
  ['replicate.delivery', [DELIVERY_FILE]],
]);

/** Whether `url` is a .tar or .safetensors file on this machine, by http(s), without credentials. */
function localWeights(url: URL): boolean {
  return (
    /^https?:$/.test(url.protocol) &&
    !url.username &&
    !url.password &&
    LOOPBACK.test(url.hostname) &&
    WEIGHTS_FILE.test(url.pathname)
  );
}

/**
 * Why a `lora_weights` URL on this machine (`http://127.0.0.1:PORT/.../trained_model.tar`, which
 * {@link loraWeightsProblem} lets through) cannot be loaded: only the Replicate-compatible API at
 * `baseUrl` (the emulator, whose trainings yield such weights URLs) can fetch weights on its own
 * origin; Replicate's servers cannot reach this machine. Undefined for every other value.
 */
export function localWeightsProblem(value: string, baseUrl: string): string | undefined {
  const url = URL.parse(value.trim());
  if (!url || !localWeights(url)) return undefined;
  const api = URL.parse(baseUrl)?.origin;
  if (url.origin === api) return undefined;
  return `${url.origin} is on this machine, not the Replicate API this block runs against (${api ?? baseUrl}), which cannot fetch it; give weights the API serves (a training's weights URL), a Hugging Face, CivitAI or replicate.delivery URL, or owner/model[:version]`;
}

/**
 * Why `value` is not a `lora_weights` the Flux LoRA models load, or undefined when it is one of:
 * a Hugging Face repository or `.safetensors` resolve URL (`huggingface.co/owner/repo`, with or
 * without `https://`), a CivitAI download URL or model page, a `replicate.delivery` `.tar` or
 * `.safetensors` URL, a Replicate model `owner/model` (optionally `:version`), or a `.tar` or
 * `.safetensors` URL on this machine (a local Replicate-compatible API's training weights, such as
 * the emulator's; {@link localWeightsProblem} then checks it is that API's).
 * Only https is accepted for other URLs. The reason ends with an example of each form.
 */
export function loraWeightsProblem(value: string): string | undefined {
  if (value.length > MAX_LORA_WEIGHTS_LENGTH) return `must be at most ${MAX_LORA_WEIGHTS_LENGTH} characters`;
  const text = value.trim();
  if (REPLICATE_MODEL.test(text)) return undefined;
  const url = URL.parse(/^[a-z][a-z0-9+.-]*:/i.test(text) ? text : `https://${text}`);
  const paths =
    url && url.protocol === 'https:' && !url.username && !url.password ? HOSTS.get(url.hostname) : undefined;
  if (url && paths?.some((path) => path.test(url.pathname))) return undefined;
  // Checked against the API the block runs against by localWeightsProblem, when the context is known.
  if (url && localWeights(url)) return undefined;
  return `is not a LoRA the model can load; use a Hugging Face, CivitAI or replicate.delivery URL or a Replicate owner/model, e.g. ${LORA_WEIGHTS_EXAMPLES.join(', ')}`;
}

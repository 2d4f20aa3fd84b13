import type { Block } from 'replicate-flux-blocks/shared/framework/block.js';
import type { BlockRegistry } from 'replicate-flux-blocks/shared/framework/registry.js';
import { blockInfo, type JsonSchema } from 'replicate-flux-blocks/shared/framework/json-schema.js';

/** Where the Node-RED package lives, relative to the repository root. */
export const NODE_RED_DIR = 'integrations/node-red';

/** The config node's type: the Replicate token (Node-RED's credentials store) and base URL. */
export const CONFIG_TYPE = 'flux-replicate-config';

/** How a field's text in the editor becomes the block's input value (the runtime reads it). */
export type FieldKind = 'string' | 'integer' | 'number' | 'boolean' | 'json' | 'string-or-json';

/** One generated node, as `nodes/blocks.json` lists it for the runtime (`nodes/flux-blocks.js`). */
export interface NodeSpec {
  /** The Node-RED node type, e.g. `flux-replicate-flux-advanced-model`. */
  readonly type: string;
  /** The block's name in the registry. */
  readonly block: string;
  /** The credentials provider the block's `credentials` field names (`replicate`, `openai_compatible`), if it has one. */
  readonly provider?: string;
  /** The block's input fields in the form (all but `credentials`), with how their text is read. */
  readonly fields: ReadonlyArray<{ readonly name: string; readonly kind: FieldKind }>;
  /** The field a message's non-object `payload` fills (the first required text field). */
  readonly primary?: string;
  /** The block's outputs, one Node-RED output each, in this order. */
  readonly outputs: readonly string[];
  /** Whether the node writes files (Save Image), so it has a directory setting. */
  readonly saves: boolean;
}

// Properties every Node-RED node has of its own: a field by one of these names would overwrite it.
const RESERVED = new Set(['id', 'type', 'x', 'y', 'z', 'g', 'd', 'l', 'wires', 'inputs', 'outputs', 'name', 'info']);
// The host settings this package adds to the nodes, which no block field may shadow either.
const HOST_SETTINGS = new Set(['replicate', 'dir']);

type Property = JsonSchema & {
  type?: string | string[];
  anyOf?: Property[];
  enum?: unknown[];
  title?: string;
  description?: string;
  advanced?: boolean;
  minimum?: number;
  maximum?: number;
  placeholder?: string;
  credentials_provider?: string[];
};

/** `ReplicateFluxAdvancedModelBlock` → `flux-replicate-flux-advanced-model`. */
export function nodeType(blockName: string): string {
  const words = blockName
    .replace(/Block$/, '')
    .replace(/OpenAI/g, 'Openai')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
  return words.startsWith('flux') ? words : `flux-${words}`;
}

/** `ReplicateFluxAdvancedModelBlock` → `Replicate Flux Advanced Model`. */
function label(blockName: string): string {
  return blockName
    .replace(/Block$/, '')
    .replace(/OpenAI/g, 'Openai')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/Openai/g, 'OpenAI');
}

const inner = (p: Property): Property => p.anyOf?.find((q) => q.type !== 'null') ?? p;

function kindOf(p: Property): FieldKind {
  // One image or a list of them: text, or JSON when it starts with [ or {.
  const members = (p.anyOf ?? []).map((q) => q.type);
  if (members.includes('string') && (members.includes('array') || members.includes('object'))) return 'string-or-json';
  const type = inner(p).type;
  const types = Array.isArray(type) ? type.filter((t) => t !== 'null') : [type];
  if (types[0] === 'integer' || types[0] === 'number' || types[0] === 'boolean') return types[0];
  if (types[0] === 'array' || types[0] === 'object') return 'json';
  return 'string';
}

/** The text a field's default has in the editor ('' for none). */
function defaultText(p: Property): string {
  if (p.default === undefined || p.default === null) return '';
  return typeof p.default === 'object' ? JSON.stringify(p.default) : String(p.default);
}

const html = (text: unknown) =>
  String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
// JSON inside a <script>: `</script>` or `<!--` in a description must not end it.
const js = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

/** The runtime's list of nodes: `integrations/node-red/nodes/blocks.json`. */
export function nodeSpecs(registry: BlockRegistry): NodeSpec[] {
  return registry.list().map((block) => {
    const { inputSchema, outputSchema } = blockInfo(block);
    const properties = inputSchema.properties as Record<string, Property>;
    const required = new Set(inputSchema.required as string[]);
    const fields = Object.entries(properties)
      .filter(([name]) => name !== 'credentials')
      .map(([name, p]) => {
        if (RESERVED.has(name) || HOST_SETTINGS.has(name))
          throw new Error(`${block.name}: input field "${name}" is a Node-RED node property; rename it`);
        return { name, kind: kindOf(p) };
      });
    const provider = properties.credentials?.credentials_provider?.[0];
    const primary = fields.find((f) => f.kind === 'string' && required.has(f.name))?.name;
    return {
      type: nodeType(block.name),
      block: block.name,
      ...(provider ? { provider } : {}),
      fields,
      ...(primary ? { primary } : {}),
      outputs: Object.keys(outputSchema.properties as object),
      saves: block.categories.includes('OUTPUT'),
    };
  });
}

/** One form row: a select for enums and booleans, a number box with its range, a text area for JSON, else a text box. */
function formRow(name: string, p: Property, kind: FieldKind): string {
  const i = inner(p);
  const id = `node-input-${name}`;
  const title = html(p.title ?? name);
  const tip = p.description ? ` title="${html(p.description)}"` : '';
  let control: string;
  if (i.enum || kind === 'boolean') {
    const choices = i.enum ? i.enum.map(String) : ['true', 'false'];
    const none = p.default === undefined ? ['<option value="">(model default)</option>'] : [];
    control = `<select id="${id}">${[...none, ...choices.map((c) => `<option value="${html(c)}">${html(c)}</option>`)].join('')}</select>`;
  } else if (kind === 'integer' || kind === 'number') {
    const range = [
      i.minimum === undefined ? '' : ` min="${i.minimum}"`,
      i.maximum === undefined ? '' : ` max="${i.maximum}"`,
      ` step="${kind === 'integer' ? 1 : 'any'}"`,
    ].join('');
    const hint = i.minimum === undefined ? '' : ` placeholder="${i.minimum} to ${i.maximum}"`;
    control = `<input type="number" id="${id}"${range}${hint}>`;
  } else if (kind === 'json' || kind === 'string-or-json') {
    control = `<textarea id="${id}" rows="2" style="width: 70%" placeholder="JSON"></textarea>`;
  } else {
    const hint = p.placeholder ? ` placeholder="${html(p.placeholder)}"` : '';
    control = `<input type="text" id="${id}"${hint}>`;
  }
  return `  <div class="form-row"${tip}><label for="${id}">${title}</label>${control}</div>`;
}

/** The editor's `defaults` entry of a field, with a range check for numbers. */
function defaultEntry(p: Property, kind: FieldKind): string {
  const i = inner(p);
  const value = js(defaultText(p));
  if ((kind === 'integer' || kind === 'number') && i.minimum !== undefined)
    return `{ value: ${value}, validate: fluxBlocksEditor.range(${i.minimum}, ${i.maximum}, ${kind === 'integer'}) }`;
  if (kind === 'json') return `{ value: ${value}, validate: fluxBlocksEditor.json }`;
  return `{ value: ${value} }`;
}

function nodeHtml(block: Block, spec: NodeSpec): string {
  const { inputSchema, outputSchema } = blockInfo(block);
  const properties = inputSchema.properties as Record<string, Property>;
  const outputs = outputSchema.properties as Record<string, Property>;
  const fields = spec.fields.map((f) => ({ ...f, p: properties[f.name]! }));
  const defaults = [
    `    name: { value: '' },`,
    ...(spec.provider || spec.saves
      ? [`    replicate: { value: '', type: ${js(CONFIG_TYPE)}, required: ${spec.provider ? 'true' : 'false'} },`]
      : []),
    ...(spec.saves ? [`    dir: { value: 'out' },`] : []),
    ...fields.map((f) => `    ${f.name}: ${defaultEntry(f.p, f.kind)},`),
  ];
  const name = label(block.name);
  const basic = fields.filter((f) => !f.p.advanced);
  const advanced = fields.filter((f) => f.p.advanced);
  const form = [
    `  <div class="form-row"><label for="node-input-name"><i class="fa fa-tag"></i> Name</label><input type="text" id="node-input-name"></div>`,
    ...(spec.provider || spec.saves
      ? [
          `  <div class="form-row"><label for="node-input-replicate"><i class="fa fa-key"></i> Replicate</label><input type="text" id="node-input-replicate"></div>`,
        ]
      : []),
    ...(spec.saves
      ? [
          `  <div class="form-row" title="The directory images are written to, relative to Node-RED's working directory."><label for="node-input-dir"><i class="fa fa-folder"></i> Directory</label><input type="text" id="node-input-dir"></div>`,
        ]
      : []),
    ...basic.map((f) => formRow(f.name, f.p, f.kind)),
    ...(advanced.length
      ? [
          `  <div class="form-row"><a href="#" class="flux-blocks-advanced-toggle"><i class="fa fa-caret-right"></i> Advanced settings</a></div>`,
          `  <div class="flux-blocks-advanced" style="display: none">`,
          ...advanced.map((f) => formRow(f.name, f.p, f.kind)),
          `  </div>`,
        ]
      : []),
  ];
  const help = [
    `  <p>${html(block.description)}</p>`,
    `  <p>${html(block.documentation.whatItDoes)}</p>`,
    `  <h3>Inputs</h3>`,
    `  <p>Each field is taken from <code>msg.&lt;field&gt;</code>, else <code>msg.payload.&lt;field&gt;</code> when the payload is an object, else the node's setting.${spec.primary ? ` A payload that is not an object fills <code>${spec.primary}</code>.` : ''}</p>`,
    `  <dl class="message-properties">`,
    ...fields.map(
      (f) =>
        `    <dt class="optional">${html(f.name)} <span class="property-type">${html(f.kind)}</span></dt>\n    <dd>${html(f.p.description ?? '')}</dd>`,
    ),
    `  </dl>`,
    `  <h3>Outputs</h3>`,
    `  <p>One output per block output; each value the block yields is one message, with the value in <code>msg.payload</code>.</p>`,
    `  <ol class="node-ports">`,
    ...spec.outputs.map((o) => `    <li>${html(o)}: ${html(outputs[o]?.description ?? '')}</li>`),
    `  </ol>`,
  ];
  return [
    `<script type="text/javascript">`,
    `  RED.nodes.registerType(${js(spec.type)}, {`,
    `    category: 'Flux',`,
    `    color: '#C0DEED',`,
    `    defaults: {`,
    ...defaults.map((line) => `  ${line}`),
    `    },`,
    `    inputs: 1,`,
    `    outputs: ${spec.outputs.length},`,
    `    outputLabels: ${js(spec.outputs)},`,
    `    icon: 'font-awesome/fa-picture-o',`,
    `    paletteLabel: ${js(name)},`,
    `    label: function () { return this.name || ${js(name)}; },`,
    `    oneditprepare: function () { fluxBlocksEditor.prepare(); },`,
    `  });`,
    `</script>`,
    `<script type="text/html" data-template-name=${js(spec.type)}>`,
    ...form,
    `</script>`,
    `<script type="text/html" data-help-name=${js(spec.type)}>`,
    ...help,
    `</script>`,
  ].join('\n');
}

// The editor helpers all generated nodes share, and the config node.
const PREAMBLE = `<!-- Generated by \`npm run node-red\` from the block registry: edit the blocks or tools/scripts/node-red.ts, not this file. -->
<script type="text/javascript">
  window.fluxBlocksEditor = {
    range: function (min, max, integer) {
      return function (v) {
        if (v === '' || v === undefined || v === null) return true;
        var n = Number(v);
        return !isNaN(n) && n >= min && n <= max && (!integer || Math.floor(n) === n);
      };
    },
    json: function (v) {
      if (v === '' || v === undefined || v === null) return true;
      try { JSON.parse(v); return true; } catch (e) { return false; }
    },
    prepare: function () {
      $('.flux-blocks-advanced-toggle').on('click', function (event) {
        event.preventDefault();
        $('.flux-blocks-advanced').toggle();
        $(this).find('i').toggleClass('fa-caret-right fa-caret-down');
      });
    },
  };
  RED.nodes.registerType(${js(CONFIG_TYPE)}, {
    category: 'config',
    defaults: {
      name: { value: '' },
      baseUrl: { value: '' },
      openaiOrigins: { value: '' },
    },
    credentials: {
      token: { type: 'password' },
      openaiKey: { type: 'password' },
    },
    label: function () { return this.name || 'Replicate'; },
  });
</script>
<script type="text/html" data-template-name=${js(CONFIG_TYPE)}>
  <div class="form-row"><label for="node-config-input-name"><i class="fa fa-tag"></i> Name</label><input type="text" id="node-config-input-name"></div>
  <div class="form-row"><label for="node-config-input-token"><i class="fa fa-key"></i> API token</label><input type="password" id="node-config-input-token" placeholder="r8_..."></div>
  <div class="form-row"><label for="node-config-input-baseUrl"><i class="fa fa-globe"></i> Base URL</label><input type="text" id="node-config-input-baseUrl" placeholder="https://api.replicate.com/v1"></div>
  <div class="form-row"><label for="node-config-input-openaiKey"><i class="fa fa-key"></i> OpenAI-compatible key</label><input type="password" id="node-config-input-openaiKey"></div>
  <div class="form-row"><label for="node-config-input-openaiOrigins"><i class="fa fa-globe"></i> Its origins</label><input type="text" id="node-config-input-openaiOrigins" placeholder="https://api.example.com (comma-separated)"></div>
</script>
<script type="text/html" data-help-name=${js(CONFIG_TYPE)}>
  <p>The Replicate API token the Flux nodes run with, kept in Node-RED's credentials store (never in the flow file), and the API's base URL (default <code>https://api.replicate.com/v1</code>).</p>
  <p>The OpenAI-compatible key is sent only to the origins listed (comma-separated), for the OpenAI Compatible Flux Image node.</p>
</script>`;

/**
 * The Node-RED package's generated files, by path relative to the repository root:
 * `integrations/node-red/nodes/flux-blocks.html` (the editor: one node per block in the Flux
 * palette category, its form from the block's JSON Schema, the block's description as help, and
 * the config node) and `integrations/node-red/nodes/blocks.json` (what the runtime registers).
 */
export function nodeRedArtifacts(registry: BlockRegistry): Map<string, string> {
  const specs = nodeSpecs(registry);
  const blocks = registry.list();
  const page = [PREAMBLE, ...specs.map((spec, i) => nodeHtml(blocks[i]!, spec)), ''].join('\n');
  return new Map([
    [`${NODE_RED_DIR}/nodes/flux-blocks.html`, page],
    [`${NODE_RED_DIR}/nodes/blocks.json`, `${JSON.stringify(specs, null, 2)}\n`],
  ]);
}

'use strict';
// The runtime of the Flux nodes: one Node-RED node type per block of replicate-flux-blocks
// (listed in blocks.json, which `npm run node-red` generates with the editor page beside it),
// and the config node that keeps the Replicate token in Node-RED's credentials store.

const SPECS = require('./blocks.json');

const CONFIG_TYPE = 'flux-replicate-config';
/** Runs one node may have going at once; a message past it gets an `error` output instead. */
const MAX_RUNNING = 8;

// The library is ESM-only and Node-RED loads nodes with require, so it comes in through import(),
// once, on the first message.
let library;
const loadLibrary = () => (library ??= import('replicate-flux-blocks'));

/**
 * The block's input from the node's settings, then `msg.payload` (an object's fields, or a
 * non-object filling the primary field), then `msg.<field>`, each over the one before. Empty
 * settings are left out, so the block's defaults apply. Returns `{ input }` or `{ error }`.
 */
function inputOf(spec, settings, msg) {
  const input = Object.create(null);
  for (const { name, kind } of spec.fields) {
    const text = settings[name];
    if (text === undefined || text === null || text === '') continue;
    if (kind === 'integer' || kind === 'number') input[name] = Number(text);
    else if (kind === 'boolean') input[name] = text === true || text === 'true';
    else if (kind === 'json' || (kind === 'string-or-json' && /^\s*[[{]/.test(text))) {
      try {
        input[name] = JSON.parse(text);
      } catch {
        return { error: `${name}: the node's setting is not JSON; fix it in the node's settings.` };
      }
    } else input[name] = text;
  }
  const payload = msg.payload;
  const own = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload) && !Buffer.isBuffer(payload)) {
    for (const { name } of spec.fields) if (own(payload, name)) input[name] = payload[name];
  } else if (spec.primary && payload !== undefined && payload !== null && payload !== '') {
    input[spec.primary] = payload;
  }
  for (const { name } of spec.fields) if (own(msg, name)) input[name] = msg[name];
  return { input };
}

module.exports = function (RED) {
  /** The config node: the token (and the OpenAI-compatible key) stay in `credentials`, never the flow file. */
  function FluxReplicateConfig(config) {
    RED.nodes.createNode(this, config);
    this.baseUrl = (config.baseUrl || '').trim();
    this.openaiOrigins = String(config.openaiOrigins || '')
      .split(',')
      .map((origin) => origin.trim())
      .filter(Boolean);
  }
  RED.nodes.registerType(CONFIG_TYPE, FluxReplicateConfig, {
    credentials: { token: { type: 'password' }, openaiKey: { type: 'password' } },
  });

  for (const spec of SPECS) {
    RED.nodes.registerType(spec.type, function FluxBlockNode(config) {
      RED.nodes.createNode(this, config);
      const node = this;
      const replicate = config.replicate ? RED.nodes.getNode(config.replicate) : undefined;
      const running = new Set();

      /** The run's context: token, base URL, progress into node.status, save directory and trusted origin. */
      function contextOf(signal) {
        const credentials = replicate?.credentials ?? {};
        const baseUrl = replicate?.baseUrl || undefined;
        const onProgress = ({ status, percent }) =>
          node.status({
            fill: 'blue',
            shape: 'dot',
            text: percent === undefined ? status : `${status} ${Math.round(percent)}%`,
          });
        return {
          credentials: {
            apiKey: credentials.token || undefined,
            keys: credentials.openaiKey ? { openai_compatible: credentials.openaiKey } : {},
            origins: { openai_compatible: replicate?.openaiOrigins ?? [] },
          },
          signal,
          runner: { ...(baseUrl ? { baseUrl } : {}), onProgress },
          // Save Image trusts the config's base URL (say, an emulator on loopback) as the CLI does.
          save: {
            dir: config.dir || 'out',
            ...(baseUrl ? { allowedOrigins: [new URL(baseUrl).origin] } : {}),
          },
        };
      }

      /** Sends `value` on the output named `name` (one message per value), the other outputs empty. */
      function send(nodeSend, msg, name, value) {
        const out = RED.util.cloneMessage(msg);
        out.payload = value;
        const messages = spec.outputs.map((output) => (output === name ? out : null));
        nodeSend(messages);
      }

      function fail(nodeSend, msg, message) {
        node.status({ fill: 'red', shape: 'ring', text: 'error' });
        send(nodeSend, msg, 'error', message);
        node.error(message, msg);
      }

      node.on('input', async (msg, nodeSend, done) => {
        nodeSend = nodeSend || ((messages) => node.send(messages));
        const check = preflight(msg);
        if (check.error) {
          fail(nodeSend, msg, check.error);
          return done ? done() : undefined;
        }
        const controller = new AbortController();
        const run = (async () => {
          node.status({ fill: 'blue', shape: 'ring', text: 'starting' });
          const { registry, runBlock } = await loadLibrary();
          const block = registry.get(spec.block);
          let failed = false;
          for await (const [name, value] of runBlock(block, check.input, contextOf(controller.signal))) {
            if (controller.signal.aborted) break;
            if (name === 'error') {
              failed = true;
              fail(nodeSend, msg, value);
            } else send(nodeSend, msg, name, value);
          }
          if (!failed && !controller.signal.aborted) node.status({ fill: 'green', shape: 'dot', text: 'done' });
        })();
        const entry = { controller, run };
        running.add(entry);
        try {
          await run;
        } catch (error) {
          // runBlock yields its failures; this is only a failure to load the library or the block.
          fail(nodeSend, msg, `could not run ${spec.block}: ${error && error.message}`);
        } finally {
          running.delete(entry);
          if (done) done();
        }
      });

      /** Checks what needs no request: too many runs, a missing config node or token, bad settings. */
      function preflight(msg) {
        if (running.size >= MAX_RUNNING)
          return { error: `${MAX_RUNNING} runs are already going on this node; wait for one to finish.` };
        if (spec.provider === 'replicate' && !replicate?.credentials?.token)
          return {
            error:
              'No Replicate API token: pick a Replicate config node in this node\u2019s settings and set its API token.',
          };
        if (spec.provider === 'openai_compatible' && !replicate?.credentials?.openaiKey)
          return {
            error:
              'No OpenAI-compatible key: pick a Replicate config node in this node\u2019s settings and set its OpenAI-compatible key.',
          };
        const { input, error } = inputOf(spec, config, msg);
        if (error) return { error };
        if (spec.provider) input.credentials = { provider: spec.provider, id: 'node-red', type: 'api_key' };
        return { input };
      }

      // Redeploy or stop: abort every run (a running prediction is canceled) and wait for them.
      node.on('close', (_removed, done) => {
        for (const { controller } of running) controller.abort(new Error('the Node-RED node was closed'));
        Promise.allSettled([...running].map(({ run }) => run)).then(() => {
          node.status({});
          done();
        });
      });
    });
  }
};

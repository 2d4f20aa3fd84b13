// Jest's node environment, plus undici's global dispatcher. Tests run in a vm context whose
// global object jest fills from the real one by name, so symbol-keyed properties are left out,
// among them Symbol.for('undici.globalDispatcher.1'), where Node keeps the dispatcher that
// fetch and replicate/transport.ts send through. Without it the transport would fall back to
// fetch in tests while it uses the dispatcher everywhere else. CommonJS: jest and Stryker load
// environments with require.
const { TestEnvironment } = require('jest-environment-node');

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');

class NodeEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    // Read through to the real global (Node sets it when it loads its undici, on first use of
    // Headers or Request), and written through, as undici's setGlobalDispatcher writes it.
    Object.defineProperty(this.global, GLOBAL_DISPATCHER, {
      get: () => globalThis[GLOBAL_DISPATCHER],
      set: (dispatcher) => {
        globalThis[GLOBAL_DISPATCHER] = dispatcher;
      },
      configurable: true,
    });
  }
}

module.exports = NodeEnvironment;

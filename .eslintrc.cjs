/* ESLint 8 legacy config (ESLint 10 no longer reads .eslintrc). */

// The layers, lowest first: each may import only from layers before it (docs/architecture.md).
// Host-level folders (servers and workers) sit side by side under bin/.
const LAYERS = [
  'core',
  'replicate',
  'openai',
  'image',
  'framework',
  'flux',
  'blocks',
  'graph',
  'emulator',
  'host',
  ['mcp', 'studio', 'workers'],
  'bin',
];
const ENTRIES = ['./index.ts', './sdk.ts'];
const folders = (layer) => (Array.isArray(layer) ? layer : [layer]).map((name) => `./${name}`);
const layerZones = LAYERS.flatMap((layer, i) =>
  folders(layer).map((target) => ({
    target,
    from: [...LAYERS.slice(i + 1).flatMap(folders), ...(layer === 'blocks' ? ['./index.ts'] : ENTRIES)],
    message: 'Layers import only from layers below them (see docs/architecture.md).',
  })),
);
// The emulator knows the Replicate API's types and the model catalog, nothing of blocks or the client.
const emulatorZones = [
  {
    target: './emulator',
    from: './replicate',
    except: ['./types.ts', './bad-ports.ts'],
    message: 'The emulator reads only the API types of replicate/ and the ports fetch refuses.',
  },
  {
    target: './emulator',
    from: './flux',
    except: ['./catalog.ts', './check-input.ts'],
    message: 'The emulator reads only the catalog of flux/.',
  },
  {
    target: './emulator',
    from: ['./core', './image', './framework'],
    message: 'The emulator reads only the API types and the catalog.',
  },
];

module.exports = {
  root: true,
  env: { node: true, es2022: true },
  parser: '@typescript-eslint/parser',
  parserOptions: { ecmaVersion: 'latest', sourceType: 'module' },
  plugins: ['@typescript-eslint', 'import'],
  extends: ['eslint:recommended', 'plugin:@typescript-eslint/recommended'],
  ignorePatterns: ['dist/', 'node_modules/', 'out/', 'coverage/'],
  settings: {
    'import/resolver': { typescript: { project: './tsconfig.json' } },
    'import/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
  },
  rules: {
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    'no-constant-condition': ['error', { checkLoops: false }],
    'import/no-cycle': 'error',
    'import/no-restricted-paths': ['error', { zones: [...layerZones, ...emulatorZones] }],
  },
  overrides: [
    {
      // The studio's page: browser code with JSX and React hooks.
      files: ['studio/app/**/*.ts', 'studio/app/**/*.tsx'],
      env: { browser: true, node: false },
      parserOptions: { ecmaFeatures: { jsx: true } },
      extends: ['plugin:react-hooks/recommended'],
    },
  ],
};

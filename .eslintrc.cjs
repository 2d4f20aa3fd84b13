/* ESLint 8 legacy config (ESLint 10 no longer reads .eslintrc). */

// The layers, lowest first: each may import only from layers before it (docs/architecture.md).
// shared/ holds the library's layers, hosts/ the processes that run blocks; host folders side by side.
const LAYERS = [
  'shared/core',
  'shared/replicate',
  'shared/openai',
  'shared/image',
  'shared/framework',
  'shared/flux',
  'blocks',
  'shared/graph',
  'emulator',
  'hosts/environment',
  ['hosts/mcp', 'hosts/studio', 'hosts/workers'],
  'hosts/cli',
];
const ENTRIES = ['./index.ts', './sdk.ts'];
const folders = (layer) => (Array.isArray(layer) ? layer : [layer]).map((name) => `./${name}`);
const layerZones = LAYERS.flatMap((layer, i) =>
  folders(layer).map((target) => ({
    target,
    from: [
      ...LAYERS.slice(i + 1).flatMap(folders),
      ...(layer === 'blocks' ? ['./index.ts'] : ENTRIES),
      './tools',
      './tests',
    ],
    message: 'Layers import only from layers below them (see docs/architecture.md).',
  })),
);
// The emulator knows the Replicate API's types and the model catalog, nothing of blocks or the client.
const emulatorZones = [
  {
    target: './emulator',
    from: './shared/replicate',
    except: ['./types.ts', './bad-ports.ts'],
    message: 'The emulator reads only the API types of shared/replicate/ and the ports fetch refuses.',
  },
  {
    target: './emulator',
    from: './shared/flux',
    except: ['./catalog.ts', './check-input.ts'],
    message: 'The emulator reads only the catalog of shared/flux/.',
  },
  {
    target: './emulator',
    from: ['./shared/core', './shared/image', './shared/framework', './shared/openai', './shared/graph', './blocks'],
    message: 'The emulator reads only the API types and the catalog.',
  },
];
// Each package builds on its own (emulator/, hosts/): a relative import out of its folder would
// point outside its tarball, so other packages are imported by name (replicate-flux-blocks/...).
const packageImports = (depth) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: ['../'.repeat(depth) + '*'],
          message:
            'Import another package by its name (replicate-flux-blocks/..., replicate-flux-emulator), not by a path out of this one.',
        },
      ],
    },
  ],
});

module.exports = {
  root: true,
  env: { node: true, es2022: true },
  parser: '@typescript-eslint/parser',
  parserOptions: { ecmaVersion: 'latest', sourceType: 'module' },
  plugins: ['@typescript-eslint', 'import'],
  extends: ['eslint:recommended', 'plugin:@typescript-eslint/recommended'],
  ignorePatterns: ['dist/', 'node_modules/', 'out/', 'coverage/', 'docs/mutation/'],
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
      files: ['hosts/studio/app/**/*.ts', 'hosts/studio/app/**/*.tsx'],
      env: { browser: true, node: false },
      parserOptions: { ecmaFeatures: { jsx: true } },
      extends: ['plugin:react-hooks/recommended'],
    },
    {
      // The Node-RED nodes: CommonJS, as Node-RED loads nodes with require.
      files: ['integrations/node-red/nodes/*.js'],
      parserOptions: { sourceType: 'script' },
      // Node-RED calls node constructors with the node as `this`; its handlers need it by name.
      rules: {
        '@typescript-eslint/no-require-imports': 'off',
        '@typescript-eslint/no-var-requires': 'off',
        '@typescript-eslint/no-this-alias': 'off',
      },
    },
    { files: ['emulator/*.ts'], rules: packageImports(1) },
    { files: ['hosts/*/*.ts', 'hosts/*/*.tsx'], rules: packageImports(2) },
    { files: ['hosts/*/*/*.ts', 'hosts/*/*/*.tsx'], rules: packageImports(3) },
  ],
};

/* ESLint 8 legacy config (see DEVELOPERS.md: ESLint 10 no longer reads .eslintrc). */
module.exports = {
  root: true,
  env: { node: true, es2022: true },
  parser: '@typescript-eslint/parser',
  parserOptions: { ecmaVersion: 'latest', sourceType: 'module' },
  plugins: ['@typescript-eslint'],
  extends: ['eslint:recommended', 'plugin:@typescript-eslint/recommended'],
  ignorePatterns: ['dist/', 'node_modules/', 'out/', 'coverage/'],
  rules: {
    '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
    'no-constant-condition': ['error', { checkLoops: false }],
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

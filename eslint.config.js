// Flat config: typescript-eslint's recommended rules on every source folder.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': 'off',
    },
  },
  // Layers only import downward: server -> tracing -> actors (see shared DESIGN.md).
  {
    files: ['actors/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../tracing/*', '../server/*', '../client-sim/*', '@opentelemetry/*'] }],
    },
  },
  {
    files: ['tracing/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../server/*', '../client-sim/*'] }] },
  },
  {
    files: ['client-sim/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../server/*', '../actors/*', '../tracing/*'] }] },
  },
);

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
  // Layers only import downward: server -> cluster -> tracing -> actors (docs/architecture.md).
  {
    files: ['actors/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../tracing/*', '../cluster/*', '../server/*', '../client-sim/*', '@opentelemetry/*', '@nats-io/*'] }],
    },
  },
  {
    files: ['tracing/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../cluster/*', '../server/*', '../client-sim/*', '@nats-io/*'] }] },
  },
  {
    // NATS lives here and nowhere below; OpenTelemetry stays the tracing layer's.
    files: ['cluster/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../server/*', '../client-sim/*', '@opentelemetry/*'] }] },
  },
  {
    files: ['client-sim/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../server/*', '../actors/*', '../tracing/*', '../cluster/*'] }] },
  },
);

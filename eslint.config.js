// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'scripts/dist/**',
      'bench/results/**',
      'test-artifacts/**',
      '.data/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    files: ['router/src/web/public/**/*.js', 'gallery/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Control characters are exactly what these patterns refuse or strip.
    files: [
      'subgraphs/ai/src/providers/output.ts',
      'subgraphs/ai/src/resolvers/Mutation.ts',
      'subgraphs/memes/src/images/render.ts',
      'subgraphs/memes/src/validation.ts',
    ],
    rules: { 'no-control-regex': 'off' },
  },
);

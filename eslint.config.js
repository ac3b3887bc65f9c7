import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.cache/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use an as-const object and a derived union type.' }],
    },
  },
  {
    files: ['schema/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/api/**', '**/ingestion/**'], message: 'schema/ must not import api/ or ingestion/.' }] }],
    },
  },
  {
    files: ['ingestion/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/api/**'], message: 'ingestion/ must not import api/.' }] }],
    },
  },
  {
    files: ['ingestion/adapters/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/api/**'], message: 'ingestion/ must not import api/.' },
        { group: ['mongodb', 'express', 'node:net', 'node:http', 'node:https', '**/schema/repository*', '**/schema/db*'], message: 'Adapters are pure: no database or network.' },
      ] }],
    },
  },
);

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** A folder may import only the layers below it: api -> ingestion -> fhir -> timeline -> store -> schema. */
function layer(dir, above) {
  return [{
    files: [`${dir}/**/*.ts`],
    ignores: dir === 'ingestion' ? ['ingestion/adapters/**'] : [],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: above.map((a) => `**/${a}/**`), message: `${dir}/ must not import ${above.join(', ')}.` }] }],
    },
  }];
}

export default tseslint.config(
  { ignores: ['node_modules/**', '.cache/**', 'data/**', 'coverage/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use an as-const object and a derived union type.' }],
    },
  },
  ...layer('schema', ['api', 'ingestion', 'fhir', 'timeline', 'store']),
  ...layer('store', ['api', 'ingestion', 'fhir', 'timeline']),
  ...layer('timeline', ['api', 'ingestion', 'fhir']),
  ...layer('fhir', ['api', 'ingestion']),
  ...layer('ingestion', ['api']),
  {
    files: ['ingestion/adapters/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [
        { group: ['**/api/**'], message: 'ingestion/ must not import api/.' },
        { group: ['mongodb', 'express', 'node:net', 'node:http', 'node:https', '**/store/**', '**/timeline/**', '**/fhir/**'], message: 'Adapters are pure: no database or network.' },
      ] }],
    },
  },
);

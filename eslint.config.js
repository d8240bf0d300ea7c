import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'dist-e2e/', 'dist-test/', 'lib/', 'node_modules/', 'test-results/', 'playwright-report/', '.gpu-kit/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'TSEnumDeclaration', message: 'Use an `as const` object and a derived union type.' }],
    },
  },
  {
    // Folders show the architecture: no DOM in estimate/ and engine/, no GPU in ui/.
    files: ['src/estimate/**/*.ts', 'src/engine/**/*.ts', 'src/protocol/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'document', 'window', 'localStorage'],
      'no-restricted-imports': ['error', { patterns: ['**/ui/**', 'lit', 'lit/*'] }],
    },
  },
  {
    files: ['src/ui/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['**/engine/device*', '**/engine/ledger*', '**/engine/kernels/**'] }],
      'no-restricted-properties': ['error', { object: 'navigator', property: 'gpu', message: 'The UI talks to the GPU only through the worker (EngineApi).' }],
    },
  },
);

// Lint: TypeScript rules plus the architecture boundary from shared/DESIGN.md:
// only electron/main and electron/preload may import 'electron'.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noElectron = {
  'no-restricted-imports': ['error', {
    paths: [{ name: 'electron', message: 'Only electron/main and electron/preload may import electron (see shared/DESIGN.md).' }],
    patterns: [{ group: ['electron/*'], message: 'Only electron/main and electron/preload may import electron.' }],
  }],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'renderer/dist/**', 'examples/**/node_modules/**', 'examples/**/dist/**', 'release/**', 'test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      ...noElectron,
    },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', URL: 'readonly', fetch: 'readonly', document: 'readonly', window: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['electron/main/**', 'electron/preload/**', 'e2e/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
);

import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Imports point down only (docs/architecture.md): server → graph / rpc-facade → domain → db / kv,
 * with src/http a helper layer below server and rpc-facade, and config (with trust-proxy, the
 * parsed TRUST_PROXY), logger and with-timeout shared by every layer. main.ts and gateway.ts, the composition root, may import anything.
 * Matched on the import specifier, so a relative path that climbs into another folder is caught
 * whatever the importing file's depth.
 */
const folder = (...names) => `(^|/)(${names.join('|')})/`;
const COMPOSITION_ROOT = '(^|/)(gateway|main)\\.ts$';
const LAYER_RULES = {
  'src/{config,logger,trust-proxy,with-timeout}.ts': [folder('db', 'kv', 'domain', 'graph', 'rpc-facade', 'http', 'server', 'workers')],
  'src/db/**': [folder('kv', 'domain', 'graph', 'rpc-facade', 'http', 'server', 'workers')],
  'src/kv/**': [folder('db', 'domain', 'graph', 'rpc-facade', 'http', 'server', 'workers')],
  'src/domain/**': [folder('graph', 'rpc-facade', 'http', 'server', 'workers')],
  'src/http/**': [folder('db', 'kv', 'domain', 'graph', 'rpc-facade', 'server', 'workers')],
  'src/graph/**': [folder('rpc-facade', 'http', 'server', 'workers')],
  // The facade runs its documents on the shared executor with the shared context, limits and error
  // policy; it never reaches into the builder, scalars or types (resolvers).
  'src/rpc-facade/**': [folder('server', 'workers'), '(^|/)graph/(?!(schema|context|error-policy|query-limits|executor)\\.ts$)'],
  'src/server/**': [folder('workers')],
  'src/workers/**': [folder('graph', 'rpc-facade', 'http', 'server')],
};
const layerRules = Object.entries(LAYER_RULES).map(([files, forbidden]) => ({
  files: [files],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [...forbidden, COMPOSITION_ROOT].map((regex) => ({
          regex,
          message: 'Imports point down only: server → graph / rpc-facade → domain → db / kv (docs/architecture.md).',
        })),
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'drizzle/', 'coverage/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', fetch: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['bench/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // The dashboard's browser modules (served as they are by src/server/dashboard.ts).
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'navigator', 'sessionStorage', 'Node', 'Intl', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'].map(
          (name) => [name, 'readonly'],
        ),
      ),
    },
  },
  ...layerRules,
);

import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Node loads `graphql` as CommonJS for the libraries in node_modules; the sources must get the
    // same instance, not the `module` build Vite would pick.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
  },
});

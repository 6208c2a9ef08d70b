import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

/**
 * Tests run the workspaces' TypeScript sources, never a stale dist/: the
 * packages' `exports` name the sources under this condition. Vite resolves
 * with it below; processes the tests start (routers, workers) inherit it
 * through NODE_OPTIONS, as the test workers themselves do.
 */
const SOURCE_CONDITION = '@memegraph/source';
if (!process.env.NODE_OPTIONS?.includes(`--conditions=${SOURCE_CONDITION}`)) {
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--conditions=${SOURCE_CONDITION}`].filter(Boolean).join(' ');
}

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS and ESM copies. Node loads the CommonJS one for
    // the Apollo packages; Vite would hand our code the ESM one, and two copies
    // break `instanceof GraphQLError` and schema checks. One copy for all.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
    // Vitest adds its own (Node's) conditions after these.
    conditions: [SOURCE_CONDITION],
  },
  ssr: { resolve: { conditions: [SOURCE_CONDITION] } },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{router,service-kit,schema,gallery,subgraphs/*}/src/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});

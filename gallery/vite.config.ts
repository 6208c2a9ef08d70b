import { defineConfig } from 'vite';

/** The router `npm start` runs; `npm run dev` sends the API and images there. */
const ROUTER = 'http://localhost:4000';

export default defineConfig({
  // The router serves the built gallery at `/`, the API at `/graphql` and the
  // images at `/images/…` on the same origin.
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // React, Apollo Client and graphql-js make one ~600 kB script (~180 kB
    // gzipped): the whole app is one view switcher, nothing to split off.
    chunkSizeWarningLimit: 800,
  },
  server: { proxy: { '/graphql': ROUTER, '/images': ROUTER } },
});

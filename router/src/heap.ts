/**
 * The router's V8 heap settings, as the image (deploy/image/entrypoint.sh),
 * `npm start` and the bench run it; each applies unless NODE_OPTIONS names
 * its flag. What each saves and costs, measured: docs/deployment.md.
 *
 * The old-generation limit (`--max-old-space-size`, MB) keeps the heap
 * well under the container's memory (768 MiB in deploy/kubernetes), and a
 * limit under 2 GB is what makes V8 grow the heap after a full collection
 * by about 1.4 times what is live, instead of up to 4 times.
 */
export const ROUTER_MAX_OLD_SPACE_MB = 512;

/**
 * The young generation's semi-space (`--max-semi-space-size`, MB; V8's
 * default is 16). A miss allocates the subgraphs' answers, the gateway's
 * merged result and its copy, nearly all of it dead by the next request:
 * a larger young generation collects it less often, and promotes less of
 * it to the old generation, for up to twice its size in memory.
 */
export const ROUTER_MAX_SEMI_SPACE_MB = 32;

/** The node options that apply them, but for those NODE_OPTIONS already names. */
export const routerNodeOptions = (nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] =>
  [`--max-old-space-size=${ROUTER_MAX_OLD_SPACE_MB}`, `--max-semi-space-size=${ROUTER_MAX_SEMI_SPACE_MB}`].filter(
    (option) => !nodeOptions.includes(option.slice(0, option.indexOf('='))),
  );

/**
 * The router's old-generation heap limit, in MB: `node
 * --max-old-space-size`, as the image (deploy/image/entrypoint.sh, unless
 * NODE_OPTIONS names a limit), `npm start` and the bench run the router.
 *
 * It keeps the heap well under the container's memory (768 MiB in
 * deploy/kubernetes), and a limit under 2 GB is what makes V8 grow the heap
 * after a full collection by about 1.4 times what is live, instead of up to
 * 4 times. What it saves and what it costs in CPU, measured: docs/deployment.md.
 */
export const ROUTER_MAX_OLD_SPACE_MB = 512;

/** The node options that apply it. */
export const routerNodeOptions = (): string[] => [`--max-old-space-size=${ROUTER_MAX_OLD_SPACE_MB}`];

/**
 * The router's old-generation heap limit, in MB: `node
 * --max-old-space-size`, as the image (deploy/image/entrypoint.sh, unless
 * NODE_OPTIONS names a limit), `npm start` and the bench run the router.
 *
 * It keeps the heap well under the container's memory (768 MiB in
 * deploy/kubernetes), and, more to the point, a limit under 2 GB is what
 * makes V8 grow the heap after a full collection by about 1.4 times what is
 * live, instead of up to 4 times: with Node's default limit on a machine of
 * 24 GB, the router under load kept 400-535 MB resident for 60-70 MB of live
 * objects (the garbage of requests promoted between collections).
 */
export const ROUTER_MAX_OLD_SPACE_MB = 512;

/** The node options that apply it. */
export const routerNodeOptions = (): string[] => [`--max-old-space-size=${ROUTER_MAX_OLD_SPACE_MB}`];

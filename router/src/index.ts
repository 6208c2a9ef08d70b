export { loadRouterConfig, type RouterConfig } from './config';
export { createRouter, type Router } from './server';
export { ROUTER_MAX_OLD_SPACE_MB, routerNodeOptions } from './heap';
/** How the tagged caches store an entry in Redis: its header (its tags and their versions), then its value. */
export { storedParts } from './state/taggedEntries';

export { loadRouterConfig, type RouterConfig } from './config';
export { createRouter, type Router } from './server';
export { ROUTER_MAX_OLD_SPACE_MB, routerNodeOptions } from './heap';

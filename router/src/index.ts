export { loadRouterConfig, type RouterConfig } from './config';
export { createRouter, type Router } from './server';

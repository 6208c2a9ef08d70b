import { createLogger, drainOnSignal } from '@memegraph/service-kit';
import { loadRouterConfig } from './config';
import { createRouter } from './server';

const config = loadRouterConfig();
const log = createLogger('router', config.logLevel);
const router = await createRouter(config, log);
const url = await router.listen(config.port, config.host);
log.info({ url: `${url}/graphql` }, 'router ready');

drainOnSignal(log, () => router.close());

/** The Memegraph router, configured from the environment exactly as `npm start` configures it. */
import { createRouter, loadRouterConfig } from '@memegraph/router';
import { createLogger } from '@memegraph/service-kit';
import { runBenchChild } from '../lib/child';

const config = loadRouterConfig();

await runBenchChild(async () => {
  const router = await createRouter(config, createLogger('router', config.logLevel));
  const url = await router.listen(0, config.host);
  return { info: { url: `${url}/graphql` }, httpServers: [router.httpServer], close: () => router.close() };
});

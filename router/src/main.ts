import cluster from 'node:cluster';
import { createLogger, drainOnSignal, env, readConfig } from '@memegraph/service-kit';
import { loadRouterConfig } from './config';
import { createRouter } from './server';

const config = loadRouterConfig();
const log = createLogger('router', config.logLevel);
const { WEB_CONCURRENCY: processes } = readConfig({ WEB_CONCURRENCY: env.int(1, 1) });

if (processes > 1 && cluster.isPrimary) {
  // Several router processes share the port; limits and caches are shared only through Redis.
  if (!config.redis)
    log.warn(
      { processes },
      'WEB_CONCURRENCY without REDIS_URL or REDIS_CLUSTER_NODES: each process keeps its own limits and caches',
    );
  let stopping = false;
  for (let i = 0; i < processes; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, 'router process died; starting another');
    cluster.fork();
  });
  const stop = () => {
    stopping = true;
    // Each worker drains on its own SIGTERM; the primary leaves when they are all gone.
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    cluster.once('exit', function waitAll() {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      else cluster.once('exit', waitAll);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} else {
  const router = await createRouter(config, log);
  const url = await router.listen(config.port, config.host);
  log.info({ url: `${url}/graphql` }, 'router ready');
  drainOnSignal(log, () => router.close());
}

/**
 * The AI generation worker: `subgraphs/ai/src/worker-main.ts` itself,
 * configured by the environment as in production (BullMQ jobs from Redis,
 * the provider key pool with the built-in offline `local` provider, the
 * catalog hand-over to the memes subgraph, purge requests to the routers),
 * in a process the bench measures.
 */
import { runBenchChild } from '../lib/child';

await runBenchChild(async () => {
  await import('../../subgraphs/ai/src/worker-main');
  return {
    info: {},
    httpServers: [],
    // worker-main drains on SIGTERM (running jobs finish) and exits when done: the process ends there, so this never resolves.
    close: () =>
      new Promise<void>(() => {
        process.emit('SIGTERM', 'SIGTERM');
      }),
  };
});

import type { Logger } from './log';
import { shutdownTracing } from './tracing';

/**
 * On SIGTERM or SIGINT: stop taking requests, let in-flight ones finish,
 * close pools, exit. A drain that hangs is cut off; a second signal while
 * draining gets the default behaviour and stops the process at once.
 */
export function drainOnSignal(log: Logger, close: () => Promise<void>, timeoutMs = 10_000): void {
  let draining = false;
  const drain = async (signal: NodeJS.Signals) => {
    if (draining) return;
    draining = true;
    log.info({ signal }, 'draining');
    setTimeout(() => {
      log.error('drain timed out');
      process.exit(1);
    }, timeoutMs).unref();
    try {
      await close();
      // Spans still batched are sent before the process ends.
      await shutdownTracing();
      log.info('stopped');
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, (s) => void drain(s));
}

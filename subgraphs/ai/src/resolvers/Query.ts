import { Scope, forbidden, hasScope, badUserInput } from '@memegraph/service-kit';
import type { AiContext } from '../context';
import { requireAiViewer } from './access';
import { visibleTo } from './Generation';

const MAX_WAIT_SECONDS = 10;
const POLL_MS = 100;

export const Query = {
  async generation(_root: unknown, args: { id: string; waitSeconds?: number | null }, context: AiContext) {
    requireAiViewer(context.viewer);
    if (!/^\d{1,18}$/.test(args.id)) return null;
    const wait = args.waitSeconds ?? 0;
    if (!Number.isInteger(wait) || wait < 0 || wait > MAX_WAIT_SECONDS) {
      throw badUserInput(`waitSeconds must be 0 to ${MAX_WAIT_SECONDS}`, { argumentName: 'waitSeconds' });
    }
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      const [row] = await context.store.byIds([args.id]);
      const visible = visibleTo(row ?? null, context);
      if (!visible || visible.status === 'SUCCEEDED' || visible.status === 'FAILED' || Date.now() >= deadline)
        return visible;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  },

  async aiStatus(_root: unknown, _args: unknown, context: AiContext) {
    if (context.viewer.kind !== 'service' && !hasScope(context.viewer, Scope.ADMIN))
      throw forbidden('aiStatus is for operators');
    const [depth, counts, times, keys] = await Promise.all([
      context.queue.depth(),
      context.store.statusCounts(),
      context.store.recentTimes(15),
      context.keyStatus(),
    ]);
    return {
      ...depth,
      queued: counts.QUEUED ?? 0,
      running: counts.RUNNING ?? 0,
      succeeded: counts.SUCCEEDED ?? 0,
      failed: counts.FAILED ?? 0,
      meanWaitSeconds: times.meanWaitSeconds,
      meanRunSeconds: times.meanRunSeconds,
      keys: keys.map((k) => ({
        provider: k.provider,
        key: k.id,
        inFlight: k.inFlight,
        successes: k.successes,
        failures: k.failures,
        breaker: k.breaker.toUpperCase().replace('-', '_'),
        coolingUntil: k.coolingUntil ? new Date(k.coolingUntil) : null,
        latencyMs: k.ewmaLatencyMs,
      })),
    };
  },
};

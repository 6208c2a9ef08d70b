import {
  GENERATION_CHANGES_CHANNEL,
  generationChangeMessage,
  type GenerationChangeStatus,
  type Logger,
  type RedisClient,
} from '@memegraph/service-kit';

/** Tells every router that a generation changed (see service-kit's generationEvents.ts). */
export type AnnounceChange = (
  generationId: string,
  userId: string,
  status: GenerationChangeStatus,
  queueMoved?: boolean,
) => Promise<void>;

/**
 * Publishes generation changes on Redis. A change that cannot be announced is
 * logged, never a failure of the generation: subscribers read the current
 * state when they (re)subscribe, and the `generation` query always has it.
 */
export function generationAnnouncer(redis: RedisClient, prefix: string, log: Logger): AnnounceChange {
  const channel = `${prefix}${GENERATION_CHANGES_CHANNEL}`;
  return async (generationId, userId, status, queueMoved = false) => {
    try {
      await redis.publish(channel, generationChangeMessage(generationId, userId, status, queueMoved));
    } catch (error) {
      log.warn({ err: error, generationId, status }, 'generation change not announced');
    }
  };
}

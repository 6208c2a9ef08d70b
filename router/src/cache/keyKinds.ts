import { taggedKeyKinds } from '../state/taggedEntries';

/** The response cache's keys in Redis and its purge channel (after the shared prefix). */
export const RESPONSE_CACHE_NAMES = { entry: 'response', tag: 'tag', channel: 'cache-purge' };

/** The entity cache's keys in Redis and its purge channel (after the shared prefix). */
export const ENTITY_CACHE_NAMES = { entry: 'entity', tag: 'entity-tag', channel: 'entity-purge' };

/**
 * The kinds of key the response cache and the entity cache write in Redis
 * (each after the shared prefix and followed by ':'): their entries, their
 * tags' versions and their counts of purges. For tools that look at or
 * clear what the routers cached, and keep limits, queues and sessions.
 */
export const cacheKeyKinds = () => ({
  response: taggedKeyKinds(RESPONSE_CACHE_NAMES),
  entity: taggedKeyKinds(ENTITY_CACHE_NAMES),
});

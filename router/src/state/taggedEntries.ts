import { redisScript, type RedisClient } from '@memegraph/service-kit';
import { SHARDS, shardOf, shardTag } from './shards';

/**
 * Writes an entry and lists it under each of its tags, in one step. A tag
 * set must outlive its longest-lived entry, or a purge would miss that
 * entry: its expiry is extended, never shortened.
 */
const WRITE = redisScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return #KEYS - 1
`);

/**
 * Deletes every entry listed under the tag sets in KEYS, then the sets. An
 * entry's key is ARGV[1] (the shard's entry prefix) and the listed member:
 * it carries the shard's hash tag, so it is in the slot of the declared keys.
 */
const PURGE = redisScript(`
local removed = 0
for i = 1, #KEYS do
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[i])) do
    removed = removed + redis.call('DEL', ARGV[1] .. member)
  end
  redis.call('DEL', KEYS[i])
end
return removed
`);

/**
 * Entries in Redis that are removed by tag, on one Redis or a Redis Cluster
 * alike. An entry and the tag sets that list it are in the entry's shard
 * (one hash tag, one slot), so one script writes an entry with all its tags
 * and one script per shard purges tags; each runs atomically.
 *
 * Invariant: in every shard, each live entry is listed in the set of each
 * of its tags, and that set lives at least as long as the entry. So a purge
 * removes every entry written before it reached the entry's shard, and an
 * entry written after (by a request that raced the purge) is listed and
 * falls to the next purge of its tags; none is ever left unlisted.
 */
export class TaggedEntries {
  constructor(
    private readonly redis: RedisClient,
    /** `prefix + entry` and `prefix + tag` start the keys of entries and of tag sets. */
    private readonly names: { prefix: string; entry: string; tag: string },
  ) {}

  get(key: string): Promise<string | null> {
    return this.redis.get(this.entryKey(shardOf(key), key));
  }

  /** One round trip: the entry and its tags go in one script. */
  async set(key: string, value: string, ttlMs: number, tags: readonly string[]): Promise<void> {
    const shard = shardOf(key);
    await WRITE(this.redis, [this.entryKey(shard, key), ...tags.map((tag) => this.tagKey(shard, tag))], [value, ttlMs, key]);
  }

  /** Deletes every entry holding any of `tags`; one script per shard, sent together. Resolves to how many went. */
  async purge(tags: readonly string[]): Promise<number> {
    if (tags.length === 0) return 0;
    const removed = await Promise.all(
      SHARDS.map((shard) => PURGE(this.redis, tags.map((tag) => this.tagKey(shard, tag)), [this.entryKey(shard, '')]) as Promise<number>),
    );
    return removed.reduce((a, b) => a + b, 0);
  }

  private entryKey(shard: number, key: string): string {
    return `${this.names.prefix}${this.names.entry}:${shardTag(this.names.entry, shard)}:${key}`;
  }

  private tagKey(shard: number, tag: string): string {
    return `${this.names.prefix}${this.names.tag}:${shardTag(this.names.entry, shard)}:${tag}`;
  }
}

import { redisScript, type RedisClient } from '@memegraph/service-kit';
import { SHARDS, shardOf, shardTag } from './shards';

/**
 * Writes an entry (KEYS[1]) and lists it under each of its tags, in one
 * step: the set of tag ARGV[i], i > 4, is ARGV[4] .. ARGV[i], in the entry's
 * shard. A tag set must outlive its longest-lived entry, or a purge would
 * miss that entry: its expiry is extended, never shortened (`GT`, Redis 7).
 * `GT` counts a set without an expiry (one SADD just made) as lasting
 * forever, so such a set is given one; a set that outlives the entry
 * already costs that one check more. An entry's tags are dozens (a page of
 * 60 memes), so each call per tag counts: two, where a PTTL first made three.
 */
const WRITE = redisScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = ARGV[2]
for i = 5, #ARGV do
  local set = ARGV[4] .. ARGV[i]
  redis.call('SADD', set, ARGV[3])
  if redis.call('PEXPIRE', set, ttl, 'GT') == 0 and redis.call('PTTL', set) == -1 then
    redis.call('PEXPIRE', set, ttl)
  end
end
return #ARGV - 4
`);

/**
 * Purges the tags ARGV[7 + s..] in the s shards ARGV[7..6 + s] (their hash
 * tags), building each key from its kind's start (ARGV[1..4]), the shard and
 * the tag or member, so a call carries each tag once, not once per shard
 * and kind. In a shard, the set of a tag is ARGV[1] .. shard .. ':' .. tag,
 * its set of stale copies ARGV[2] .. shard .. ':' .. tag, an entry listed
 * there ARGV[3] .. shard .. ':' .. member and its stale copy ARGV[4] ..
 * shard .. ':' .. member (ARGV[2] and ARGV[4] are '' for state without
 * stale copies). KEYS[1], the first tag's set in the first shard, says
 * where the call goes: on a cluster one call per shard, every key in that
 * shard's slot.
 *
 * Without ARGV[5] (''), every entry listed under a tag goes, with its stale
 * copy, then the set; and every copy listed in the tag's set of copies, then
 * that set. With it, every entry listed becomes its stale copy, to live at
 * most ARGV[5] ms more, and the members with a copy (made now, or before
 * under another tag) move to the tag's set of copies, which lives as long
 * as its longest copy; the tag's set goes. So a later purge of any of a
 * copy's tags still finds it, and a later purge keeping copies goes through
 * the entries written since, not again through every copy it made: a hot
 * tag purged over and over, its answers cached under many keys, made every
 * purge check each copy again (1.7 million PTTL and EXISTS in 30 s of
 * mixed-read-write after two scenarios had cached pages under its memes).
 * Returns how many entries went (or became copies).
 */
const PURGE = redisScript(`
local tagStart, copiesStart, entryStart, staleStart = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local keepMs = tonumber(ARGV[5])
local shards = tonumber(ARGV[6])
local removed = 0
for s = 7, 6 + shards do
  local shard = ARGV[s] .. ':'
  local entries = entryStart .. shard
  local stale = staleStart ~= '' and staleStart .. shard or nil
  for t = 7 + shards, #ARGV do
    local tag = ARGV[t]
    local set = tagStart .. shard .. tag
    local copies = copiesStart ~= '' and copiesStart .. shard .. tag or nil
    if keepMs and stale then
      for _, member in ipairs(redis.call('SMEMBERS', set)) do
        local copy = stale .. member
        local ttl = redis.call('PTTL', entries .. member)
        if ttl > 0 then
          redis.call('RENAME', entries .. member, copy)
          if ttl > keepMs then
            redis.call('PEXPIRE', copy, keepMs)
            ttl = keepMs
          end
          removed = removed + 1
        else
          ttl = redis.call('PTTL', copy)
        end
        if ttl > 0 then
          redis.call('SADD', copies, member)
          if redis.call('PTTL', copies) < ttl then redis.call('PEXPIRE', copies, ttl) end
        end
      end
      redis.call('DEL', set)
    else
      for _, member in ipairs(redis.call('SMEMBERS', set)) do
        removed = removed + redis.call('DEL', entries .. member)
        if stale then redis.call('DEL', stale .. member) end
      end
      redis.call('DEL', set)
      if copies then
        for _, member in ipairs(redis.call('SMEMBERS', copies)) do redis.call('DEL', stale .. member) end
        redis.call('DEL', copies)
      end
    end
  end
end
return removed
`);

/**
 * Entries in Redis that are removed by tag, on one Redis or a Redis Cluster
 * alike. An entry and the tag sets that list it are in the entry's shard
 * (one hash tag, one slot), so one script writes an entry with all its tags
 * and one script per shard (on one Redis, one for all) purges tags; each
 * runs atomically.
 *
 * Invariant: in every shard, each live entry is listed in the set of each
 * of its tags, and each stale copy in the set of each of its tags or in
 * that tag's set of copies, and that set lives at least as long as it (a
 * copy keeps its entry's expiry or a shorter one). So a purge
 * removes every entry written before it reached the entry's shard, and an
 * entry written after (by a request that raced the purge) is listed and
 * falls to the next purge of its tags; none is ever left unlisted.
 */
export class TaggedEntries {
  constructor(
    private readonly redis: RedisClient,
    /**
     * `prefix + entry` and `prefix + tag` start the keys of entries and of tag sets; `prefix +
     * stale`, those of stale copies, for state that keeps them (see `purge`).
     */
    private readonly names: { prefix: string; entry: string; tag: string; stale?: string },
  ) {
    this.shardTags = SHARDS.map((shard) => shardTag(names.entry, shard));
    const start = (kind: string) => `${names.prefix}${kind}:`;
    this.starts = {
      tag: start(names.tag),
      copies: names.stale ? start(`${names.stale}-${names.tag}`) : '',
      entry: start(names.entry),
      stale: start(names.stale ?? ''),
    };
  }

  /** Each shard's hash tag, in the keys of its entries, their copies and their tags' sets. */
  private readonly shardTags: readonly string[];
  /**
   * Where the keys of each kind begin, before the shard's hash tag (`prefix + kind + ':'`): a tag's set,
   * its set of stale copies ('' without them), an entry, a stale copy.
   */
  private readonly starts: { tag: string; copies: string; entry: string; stale: string };

  get(key: string): Promise<string | null> {
    return this.redis.get(this.entryKey(shardOf(key), key));
  }

  /** The entry, or else its stale copy (marked so), in one round trip; null when there is neither. */
  async getWithStale(key: string): Promise<{ value: string; staleOnly: boolean } | null> {
    const shard = shardOf(key);
    const [entry, copy] = await this.redis.mget(this.entryKey(shard, key), this.staleKey(shard, key));
    if (entry) return { value: entry, staleOnly: false };
    return copy ? { value: copy, staleOnly: true } : null;
  }

  /** One round trip: the entry and its tags go in one script. */
  async set(key: string, value: string, ttlMs: number, tags: readonly string[]): Promise<void> {
    const shard = shardOf(key);
    await WRITE(this.redis, [this.entryKey(shard, key)], [value, ttlMs, key, this.tagKey(shard, ''), ...tags]);
  }

  /**
   * Removes every entry holding any of `tags`; resolves to how many went.
   * With `keepStaleMs`, each becomes a stale copy for at most that long
   * (never read as an entry, only by `getWithStale`), unless a purge without
   * it deletes the copy first. Without, copies go too.
   */
  async purge(tags: readonly string[], options: { keepStaleMs?: number } = {}): Promise<number> {
    if (tags.length === 0) return 0;
    const keep = options.keepStaleMs !== undefined && this.names.stale !== undefined;
    // A cluster may keep each shard on another node: one script per shard, sent together. One
    // Redis holds them all, so one script does every shard: measured, 111 µs of Redis CPU a purge
    // against 191 µs for sixteen scripts, and half the wall time.
    const groups = this.redis.isCluster ? SHARDS.map((shard) => [shard]) : [SHARDS];
    const { tag, copies, entry, stale } = this.starts;
    const starts = [tag, copies, entry, this.names.stale ? stale : '', keep ? options.keepStaleMs! : ''];
    const removed = await Promise.all(
      groups.map(
        (shards) =>
          PURGE(
            this.redis,
            [this.tagKey(shards[0]!, tags[0]!)],
            [...starts, shards.length, ...shards.map((shard) => this.shardTags[shard]!), ...tags],
          ) as Promise<number>,
      ),
    );
    return removed.reduce((a, b) => a + b, 0);
  }

  private entryKey(shard: number, key: string): string {
    return `${this.starts.entry}${this.shardTags[shard]}:${key}`;
  }

  /** A stale copy is in its entry's shard (the entry's hash tag), so one script can rename one into the other. */
  private staleKey(shard: number, key: string): string {
    return `${this.starts.stale}${this.shardTags[shard]}:${key}`;
  }

  /** The set of a tag, in the shard of the entries it lists; its set of stale copies begins `<stale>-<tag>` instead. */
  private tagKey(shard: number, tag: string): string {
    return `${this.starts.tag}${this.shardTags[shard]}:${tag}`;
  }
}

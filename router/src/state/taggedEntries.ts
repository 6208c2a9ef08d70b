import { redisScript, type RedisClient } from '@memegraph/service-kit';
import { SHARDS, shardOf, shardTag } from './shards';

/**
 * An entry is stored as its header and its value: the number of its tags,
 * each tag on a line, the purge counter of its shard when it was written,
 * then the value: `2\nMeme:1\nUser:7\n41\n{...}`.
 *
 * Each shard counts its purges (on one Redis, one count serves all shards),
 * and a tag's version key (in the shard, or that one place) holds
 * `<version> <hard> <window start> <window end>`: the count at the tag's
 * last purge, at its last purge that kept nothing, at the last purge before
 * its current stale window, and when that window ends (epoch ms). So an entry is current while none of
 * its tags has a version above the count it was written at; the counter
 * never starts over, even after a version key has expired.
 *
 * Writes an entry (KEYS[1]) with the count of its shard now (KEYS[2]): one
 * GET and one SET, however many tags. ARGV[1] is the header's start (the
 * number of tags and the tags, each with its line break), ARGV[2] the
 * value, ARGV[3] its lifetime in ms.
 */
const WRITE = redisScript(`
local count = redis.call('GET', KEYS[2]) or '0'
redis.call('SET', KEYS[1], ARGV[1] .. count .. '\\n' .. ARGV[2], 'PX', ARGV[3])
return 1
`);

/**
 * Reads an entry (KEYS[1]) with the version keys of its tags now (ARGV[1]
 * .. tag): `{entry, version key of tag 1, …}` ('' for a key that is not
 * there), or nil without the entry (or with one of another format).
 */
const READ = redisScript(`
local entry = redis.call('GET', KEYS[1])
if not entry then return false end
local count = string.match(entry, '^(%d+)\\n')
if not count then return false end
local n = tonumber(count)
if n == 0 then return {entry} end
local keys = {}
local at = #count + 2
for i = 1, n do
  local newline = string.find(entry, '\\n', at, true)
  if not newline then return false end
  keys[i] = ARGV[1] .. string.sub(entry, at, newline - 1)
  at = newline + 1
end
local current = redis.call('MGET', unpack(keys))
local reply = {entry}
for i = 1, n do reply[i + 1] = current[i] or '' end
return reply
`);

/**
 * Purges the tags ARGV[5..] where the counter KEYS[1] counts purges: one
 * new version from the counter for all of them, written to each tag's
 * version key (ARGV[1] .. tag), which lives ARGV[2] ms, as long as the
 * longest entry may. ARGV[3] is now (epoch ms), ARGV[4] how long the
 * entries written before may still be read as stale copies ('' for not at
 * all). A stale window, once opened by a purge that keeps copies, is not
 * extended by the purges within it: a copy is never kept longer than the
 * window its first purge opened.
 */
const PURGE = redisScript(`
local versionStart, ttl, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local keepMs = tonumber(ARGV[4])
local version = redis.call('INCR', KEYS[1])
for t = 5, #ARGV do
  local key = versionStart .. ARGV[t]
  local last, hard, from, to = 0, 0, 0, 0
  local old = redis.call('GET', key)
  if old then
    local a, b, c, d = string.match(old, '^(%d+) (%d+) (%d+) (%d+)$')
    last, hard, from, to = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  end
  if not keepMs then
    hard, from, to = version, version, 0
  elseif to <= now then
    from, to = last, now + keepMs
  end
  redis.call('SET', key, version .. ' ' .. hard .. ' ' .. from .. ' ' .. to, 'PX', ttl)
end
return version
`);

/**
 * A stored entry's header (its tags and its shard's count of purges, each line with its line break), the
 * count it was written at (the header's last line) and its value.
 */
export function storedParts(stored: string): { head: string; written: number; value: string } {
  let at = stored.indexOf('\n') + 1;
  const count = Number(stored.slice(0, at - 1));
  let line = at;
  for (let i = 0; i <= count; i++) {
    line = at;
    at = stored.indexOf('\n', at) + 1;
  }
  return { head: stored.slice(0, at), written: Number(stored.slice(line, at - 1)), value: stored.slice(at) };
}

/** What an entry read from Redis says: its value, and whether it may be served or only kept as a stale copy. */
export type ReadEntry = { value: string; staleOnly: boolean } | null;

/** How long an entry may live in Redis, at most: its tags' version keys live that long after each purge. */
export const DEFAULT_MAX_ENTRY_TTL_MS = 24 * 3_600_000;

/**
 * Whether an entry read with its tags' version keys now is current, a stale
 * copy that may still be served when the source of truth fails, or gone.
 * A version key that is not there means no purge of the tag within the
 * longest an entry lives, so none since this entry was written.
 */
export function readEntry(reply: readonly string[] | null, now: number): ReadEntry {
  if (!reply) return null;
  const { written, value } = storedParts(reply[0]!);
  let staleOnly = false;
  for (let i = 1; i < reply.length; i++) {
    const current = reply[i];
    if (!current) continue;
    const [version, hard, from, to] = current.split(' ').map(Number) as [number, number, number, number];
    if (version <= written) continue;
    // Purged since: a stale copy while the window of the first purge since is open and nothing purged it for good.
    if (hard > written || from > written || to <= now) return null;
    staleOnly = true;
  }
  return { value, staleOnly };
}

/**
 * The kinds of key a tagged cache of these names writes in Redis, each after
 * the shared prefix and followed by ':': its entries (`-v2`, apart from those
 * of the format before versions), its tags' versions and its counts of purges.
 */
export function taggedKeyKinds(names: { entry: string; tag: string }) {
  return { entry: `${names.entry}-v2`, version: `${names.tag}-version`, sequence: `${names.tag}-sequence` };
}

/**
 * Entries in Redis that are removed by tag, on one Redis or a Redis Cluster
 * alike, by versions: a purge gives each of its tags a new version, the
 * next count of its shard's purges, and an entry written before it, which
 * holds the count it was written at, is no longer current. A purge costs
 * one write per tag however many entries hold it, and a write one read of
 * its shard's count however many tags it has: no set of entries is kept
 * per tag, to grow with every answer written under a hot tag and to be
 * gone through by the next purge. An entry, its shard's count and its
 * tags' version keys are in the entry's shard (one hash tag, one slot), so
 * each script runs in one slot: one script writes an entry, one reads it
 * with its tags' versions, one script per shard (on one Redis, one for
 * all) purges tags; each runs atomically.
 *
 * Invariant: a tag's version key lives, after each purge of it, at least as
 * long as any entry may (`maxEntryTtlMs`; writes are held to it), so an
 * entry written before a purge always finds the purge's version; an entry
 * written after it (by a request that raced the purge) holds a count as
 * high and falls to the next purge of its tags. A purged entry stays in
 * Redis until its own expiry: read as a stale copy while the purge's stale
 * window is open, else as nothing.
 */
export class TaggedEntries {
  constructor(
    private readonly redis: RedisClient,
    /**
     * What the keys of entries, tags' versions and each shard's count of purges begin with: the prefix, then
     * the kinds `taggedKeyKinds` names.
     */
    names: { prefix: string; entry: string; tag: string },
    private readonly options: { now: () => number; maxEntryTtlMs?: number } = { now: Date.now },
  ) {
    // Each shard's hash tag, in the keys of its entries (and, on a cluster, of their tags' versions).
    const shardTags = SHARDS.map((shard) => shardTag(names.entry, shard));
    // On one Redis any script reaches every key: one count and one version key per tag serve all shards.
    const versionShards = redis.isCluster ? shardTags : SHARDS.map(() => 'all');
    const kinds = taggedKeyKinds(names);
    this.entryStarts = shardTags.map((tag) => `${names.prefix}${kinds.entry}:${tag}:`);
    this.versionStarts = versionShards.map((at) => `${names.prefix}${kinds.version}:${at}:`);
    this.sequenceKeys = versionShards.map((at) => `${names.prefix}${kinds.sequence}:${at}`);
    this.maxEntryTtlMs = options.maxEntryTtlMs ?? DEFAULT_MAX_ENTRY_TTL_MS;
  }

  /**
   * By shard, what its entries' keys begin with, what its tags' version keys begin with (then the tag) and
   * the key of its count of purges. On a cluster the versions and the count are in the shard (its hash tag),
   * so that each script stays in one slot; on one Redis in one place for all shards, so a purge writes a key
   * per tag.
   */
  private readonly entryStarts: readonly string[];
  private readonly versionStarts: readonly string[];
  private readonly sequenceKeys: readonly string[];
  private readonly maxEntryTtlMs: number;

  /**
   * The entry, in one round trip: current, or marked stale-only when purged within its stale window; null
   * when there is none, or it was purged for good.
   */
  async get(key: string): Promise<ReadEntry> {
    const shard = shardOf(key);
    const reply = (await READ(this.redis, [`${this.entryStarts[shard]}${key}`], [this.versionStarts[shard]!])) as
      string[] | null;
    return readEntry(reply, this.options.now());
  }

  /** One round trip: the entry goes with its tags and its shard's count of purges, in one script. */
  async set(key: string, value: string, ttlMs: number, tags: readonly string[]): Promise<void> {
    // A tag is a line of the entry's header: one with a line break in it could not be read back, so none is kept.
    let head = `${tags.length}\n`;
    for (const tag of tags) {
      if (tag.includes('\n')) return;
      head += `${tag}\n`;
    }
    const shard = shardOf(key);
    const ttl = Math.max(1, Math.min(Math.ceil(ttlMs), this.maxEntryTtlMs));
    await WRITE(this.redis, [`${this.entryStarts[shard]}${key}`, this.sequenceKeys[shard]!], [head, value, ttl]);
  }

  /**
   * Makes every entry holding any of `tags` no longer current. With
   * `keepStaleMs`, each may be read as a stale copy (marked so by `get`)
   * for at most that long, unless a purge without it comes first. Without,
   * copies go too.
   */
  async purge(tags: readonly string[], options: { keepStaleMs?: number } = {}): Promise<void> {
    if (tags.length === 0) return;
    // A cluster may keep each shard on another node: one script per shard, sent together. One
    // Redis keeps the versions of all shards in one place: one script.
    const shards = this.redis.isCluster ? SHARDS : [0];
    const keep = options.keepStaleMs !== undefined && options.keepStaleMs > 0 ? options.keepStaleMs : '';
    const now = this.options.now();
    await Promise.all(
      shards.map((shard) =>
        PURGE(
          this.redis,
          [this.sequenceKeys[shard]!],
          [this.versionStarts[shard]!, this.maxEntryTtlMs, now, keep, ...tags],
        ),
      ),
    );
  }
}

/**
 * Redis Cluster runs a multi-key command, script or MULTI only when all its
 * keys hash to one slot, and a key's slot is that of its `{hash tag}` when it
 * has one. State whose keys must change together (an entry and the index
 * that lists it) is spread over a fixed number of shards: each shard is one
 * hash tag, every key of a shard carries it, and a shard is chosen from the
 * entry's own key. One code path then serves a single Redis and a cluster:
 * writes touch one shard, and what must see every entry (a purge, a flush)
 * runs once per shard, in parallel.
 *
 * The tags do not include the key prefix: deployments sharing a cluster
 * share these slots too, which costs nothing but balance.
 */
export const SHARD_COUNT = 16;

export const SHARDS: readonly number[] = Array.from({ length: SHARD_COUNT }, (_, i) => i);

/** The shard of `id`: FNV-1a over its UTF-16 code units, so it is the same on every router. */
export function shardOf(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % SHARD_COUNT;
}

/** The hash tag of `shard` of the state called `name`, e.g. `{response-3}`. */
export function shardTag(name: string, shard: number): string {
  return `{${name}-${shard}}`;
}

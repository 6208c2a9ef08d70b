import { describe, expect, it } from 'vitest';
import { SHARD_COUNT, SHARDS, shardOf, shardTag } from './shards';

describe('shards', () => {
  it('are FNV-1a, so routers of every version agree on where a key lives', () => {
    // The published FNV-1a 32-bit test vectors, modulo the shard count.
    expect(shardOf('')).toBe(0x811c9dc5 % SHARD_COUNT);
    expect(shardOf('a')).toBe(0xe40c292c % SHARD_COUNT);
    expect(shardOf('foobar')).toBe(0xbf9cf968 % SHARD_COUNT);
  });

  it('spread ids over every shard', () => {
    expect(SHARDS).toEqual([...Array(SHARD_COUNT).keys()]);
    const counts = new Array<number>(SHARD_COUNT).fill(0);
    for (let i = 0; i < 16_000; i++) counts[shardOf(`2025-01-01:user-${i}`)]!++;
    // Each shard holds its share within a fifth: no shard (so no cluster slot) is a hot spot.
    for (const count of counts) expect(Math.abs(count - 1_000)).toBeLessThan(200);
  });

  it('name a shard with a hash tag of its own', () => {
    expect(shardTag('response', 3)).toBe('{response-3}');
    expect(new Set(SHARDS.map((s) => shardTag('viewer', s))).size).toBe(SHARD_COUNT);
  });
});

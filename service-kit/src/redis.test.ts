import { describe, expect, it } from 'vitest';
import { readConfig } from './config';
import { createRedis, redisEnv, redisScript, redisTargetOf } from './redis';

const target = (env: Record<string, string>) => redisTargetOf(readConfig(redisEnv, env));

describe('Redis settings', () => {
  it('select one Redis by URL, a cluster by its nodes, or none', () => {
    expect(target({ REDIS_URL: 'redis://10.0.0.5:6379' })).toEqual({ url: 'redis://10.0.0.5:6379' });
    expect(target({ REDIS_CLUSTER_NODES: 'redis-a:7000, 10.0.0.2:7001,[::1]:7002' })).toEqual({
      clusterNodes: [
        { host: 'redis-a', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
    expect(target({})).toBeUndefined();
    expect(target({ REDIS_URL: '', REDIS_CLUSTER_NODES: '' })).toBeUndefined();
  });

  it('name REDIS_CLUSTER_NODES when a node is not host:port', () => {
    for (const bad of [
      'redis-a',
      'redis-a:7000,',
      'redis-a:0',
      'redis-a:70000',
      ':7000',
      'redis-a:7000:1',
      'redis://a:7000',
    ]) {
      expect(() => target({ REDIS_CLUSTER_NODES: bad }), bad).toThrow(/REDIS_CLUSTER_NODES: .* is not host:port/);
    }
  });

  it('refuse REDIS_URL and REDIS_CLUSTER_NODES together', () => {
    expect(() => target({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).toThrow(
      /REDIS_CLUSTER_NODES: set either REDIS_URL .* not both/,
    );
  });

  it('refuse braces in REDIS_PREFIX, which would move keys between cluster slots', () => {
    expect(readConfig(redisEnv, {}).REDIS_PREFIX).toBe('memegraph:');
    expect(() => readConfig(redisEnv, { REDIS_PREFIX: '{memegraph}:' })).toThrow(
      /REDIS_PREFIX: must not contain \{ or \}/,
    );
  });
});

describe('redisScript', () => {
  const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const key = `memegraph-test:script:${Math.random().toString(36).slice(2)}`;
  const lua = `return redis.call('INCRBY', KEYS[1], ARGV[1]) .. ':' .. ARGV[2]`;

  it('answer the same sent alone or auto-pipelined, also on a server that does not know the script yet', async () => {
    const redis = createRedis(REDIS_URL, 'memegraph-test', { autoPipelining: true });
    await new Promise((resolve) => redis.once('ready', resolve));
    try {
      for (const alone of [false, true]) {
        // Each script is new to the server (its text names this run): the call is sent again as EVAL once
        // EVALSHA says NOSCRIPT.
        const script = redisScript(`${lua} -- ${key} ${alone}`, { alone });
        const first = await Promise.all([script(redis, [key], [2, 'a']), script(redis, [key], [3, 'b'])]);
        const again = await script(redis, [key], [5, 'c']);
        expect([...first, again], `alone: ${alone}`).toEqual(alone ? ['12:a', '15:b', '20:c'] : ['2:a', '5:b', '10:c']);
      }
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });
});

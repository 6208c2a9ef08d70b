import { randomBytes } from 'node:crypto';
import { buildSchema } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis, type Viewer } from '@memegraph/service-kit';
import { SchemaPolicy } from '../policy/schemaPolicy';
import { openSharedState, type SharedState } from '../state/shared';
import { storedParts } from '../state/taggedEntries';
import { EntityCache, type SubgraphAnswer } from './entityCache';
import { dropKeys } from '../../../test/support/redis';

/**
 * The entity cache's answers, in memory (one router alone) and on the real
 * Redis (a key prefix of this run's own, removed at the end), with an
 * injected clock.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `memegraph-unit:${randomBytes(4).toString('hex')}:`;

const sdl = `
  directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
  enum CacheControlScope { PUBLIC PRIVATE }
  type Query { user(id: ID!): User }
  type User @cacheControl(maxAge: 60) {
    id: ID!
    handle: String!
    secret: String @cacheControl(scope: PRIVATE)
    best: Post
    posts: [Post!]! @cacheControl(maxAge: 30)
    drafts: [Draft!]!
  }
  type Post @cacheControl(maxAge: 120) { id: ID! title: String! }
  type Draft { id: ID! title: String! }
`;
const schema = buildSchema(sdl);
const policy = SchemaPolicy.fromSupergraph(sdl);

const opened: SharedState[] = [];
let stores = 0;
async function open(onRedis: boolean): Promise<SharedState> {
  const prefix = `${RUN}${stores++}:`;
  const state = onRedis ? openSharedState({ url: REDIS_URL }, prefix) : openSharedState(undefined, prefix);
  opened.push(state);
  if (onRedis) expect(await state.connected(5_000)).toBe(true);
  return state;
}

afterAll(async () => {
  await Promise.all(opened.map((state) => state.close()));
  const redis = createRedis(REDIS_URL, 'entityCache.test');
  await new Promise((resolve) => redis.once('ready', resolve));
  await dropKeys(redis, RUN);
  redis.disconnect();
});

const viewer = (userId: string, tier: 'free' | 'premium' = 'free'): Viewer => ({
  kind: 'user',
  userId,
  tier,
  scopes: ['memes:read'],
});
const user = (id: string) => ({ __typename: 'User', id });

/** A subgraph that answers each representation with its handle, or an error for ids in `failing`, and logs what it was asked. */
function subgraph(failing: ReadonlySet<string> = new Set()) {
  const asked: string[][] = [];
  let version = 1;
  const send = async (variables: Record<string, unknown>): Promise<SubgraphAnswer> => {
    const representations = variables.representations as { id: string }[];
    asked.push(representations.map((r) => r.id));
    const errors = representations.flatMap((r, i) =>
      failing.has(r.id) ? [{ message: `no ${r.id}`, path: ['_entities', i, 'handle'] }] : [],
    );
    return {
      data: {
        _entities: representations.map((r) => (failing.has(r.id) ? null : { handle: `h${r.id}.v${version}` })),
      },
      ...(errors.length ? { errors } : {}),
    };
  };
  return { asked, send, bump: () => version++ };
}

describe.each([
  ['in memory', false],
  ['on Redis', true],
])('the entity cache %s', (_, onRedis) => {
  const HANDLE =
    'query A__users__1($representations:[_Any!]!){_entities(representations:$representations){...on User{handle}}}';

  it('fetches only what it lacks, once each, and answers in the order asked, errors at their entity', async () => {
    let now = 1_000_000;
    const cache = new EntityCache(await open(onRedis), policy, { localTtlMs: 5_000, now: () => now });
    const sub = subgraph(new Set(['3']));
    const ask = (ids: string[], query = HANDLE) =>
      cache.fetch({
        subgraph: 'users',
        schema,
        query,
        variables: { representations: ids.map(user) },
        viewer: viewer('9'),
        viewerKey: 'u:9',
        send: sub.send,
      });
    expect(await ask(['1', '2'])).toEqual({ data: { _entities: [{ handle: 'h1.v1' }, { handle: 'h2.v1' }] } });
    // 1 and 2 are kept; 3 fails and is asked once for its two places; 4 is asked once.
    const mixed = await ask(['4', '1', '3', '2', '3', '4']);
    expect(sub.asked).toEqual([
      ['1', '2'],
      ['4', '3'],
    ]);
    expect(mixed.data).toEqual({
      _entities: [{ handle: 'h4.v1' }, { handle: 'h1.v1' }, null, { handle: 'h2.v1' }, null, { handle: 'h4.v1' }],
    });
    expect(mixed.errors).toEqual([
      { message: 'no 3', path: ['_entities', 2, 'handle'] },
      { message: 'no 3', path: ['_entities', 4, 'handle'] },
    ]);
    // Each place gets an object of its own: the gateway merges later fetches into them.
    expect(mixed.data!._entities).toSatisfy((list: unknown[]) => list[0] !== list[5]);
    // Another operation's name, the same selection: the same entities.
    sub.bump();
    expect((await ask(['2', '4'], HANDLE.replace('A__users__1', 'B__users__0'))).data).toEqual({
      _entities: [{ handle: 'h2.v1' }, { handle: 'h4.v1' }],
    });
    expect(sub.asked).toHaveLength(2);
    // Kept entities asked at several places: each place answered, each with an object of its own.
    const repeated = await ask(['2', '1', '2', '4', '2']);
    expect(repeated.data).toEqual({
      _entities: [
        { handle: 'h2.v1' },
        { handle: 'h1.v1' },
        { handle: 'h2.v1' },
        { handle: 'h4.v1' },
        { handle: 'h2.v1' },
      ],
    });
    expect(repeated.data!._entities).toSatisfy((list: unknown[]) => list[0] !== list[2] && list[2] !== list[4]);
    expect(sub.asked).toHaveLength(2);
    // Past the type's maxAge (60 s), fetched again.
    now += 61_000;
    expect((await ask(['2'])).data).toEqual({ _entities: [{ handle: 'h2.v2' }] });
    expect(sub.asked).toHaveLength(3);
  });

  it('puts the errors of a fetch that failed whole at the places their entities were asked', async () => {
    const cache = new EntityCache(await open(onRedis), policy, { localTtlMs: 5_000 });
    const sub = subgraph();
    const ask = (ids: string[], send: (variables: Record<string, unknown>) => Promise<SubgraphAnswer>) =>
      cache.fetch({
        subgraph: 'users',
        schema,
        query: HANDLE,
        variables: { representations: ids.map(user) },
        viewer: viewer('9'),
        viewerKey: 'u:9',
        send,
      });
    await ask(['1'], sub.send);
    // 1 is kept; 2 and 5 are asked (slots 0 and 1), and the subgraph fails on 5.
    const failed = await ask(['2', '1', '5', '5'], async () => ({
      data: null,
      errors: [{ message: 'boom', path: ['_entities', 1, 'handle'] }],
    }));
    expect(failed.data).toBeNull();
    expect(failed.errors).toEqual([
      { message: 'boom', path: ['_entities', 2, 'handle'] },
      { message: 'boom', path: ['_entities', 3, 'handle'] },
    ]);
  });

  it('keeps a PRIVATE selection per viewer, and a partition per tier', async () => {
    const cache = new EntityCache(await open(onRedis), policy, { localTtlMs: 5_000 });
    const sub = subgraph();
    const query =
      'query($representations:[_Any!]!){_entities(representations:$representations){...on User{handle secret}}}';
    const ask = (who: Viewer, query_ = query) =>
      cache.fetch({
        subgraph: 'users',
        schema,
        query: query_,
        variables: { representations: [user('1')] },
        viewer: who,
        viewerKey: `u:${(who as { userId: string }).userId}`,
        send: sub.send,
      });
    await ask(viewer('7'));
    await ask(viewer('7'));
    await ask(viewer('8'));
    expect(sub.asked).toHaveLength(2);
    const publicQuery = query.replace(' secret', '');
    await ask(viewer('7'), publicQuery);
    await ask(viewer('8'), publicQuery);
    await ask(viewer('8', 'premium'), publicQuery);
    expect(sub.asked).toHaveLength(4);
  });

  it('lists an entity under the entities inside it, and forgets it when one of them is purged', async () => {
    const cache = new EntityCache(await open(onRedis), policy, { localTtlMs: 5_000 });
    const asked: number[] = [];
    const query =
      'query($representations:[_Any!]!){_entities(representations:$representations){...on User{best{id title} posts{id title}}}}';
    const ask = () =>
      cache.fetch({
        subgraph: 'posts',
        schema,
        query,
        variables: { representations: [user('1')] },
        viewer: viewer('9'),
        viewerKey: 'u:9',
        send: async () => {
          asked.push(1);
          return { data: { _entities: [{ best: { id: 'p1', title: 'a' }, posts: [{ id: 'p2', title: 'b' }] }] } };
        },
      });
    await ask();
    await ask();
    expect(asked).toHaveLength(1);
    await cache.purge(['Post:p1']);
    await ask();
    expect(asked).toHaveLength(2);
    await cache.purge(['Post:list']);
    await ask();
    expect(asked).toHaveLength(3);
    await cache.purge(['User:1']);
    await ask();
    expect(asked).toHaveLength(4);
  });

  it('keeps nothing of a selection with an object whose id it did not ask, or with no maxAge', async () => {
    const cache = new EntityCache(await open(onRedis), policy, { localTtlMs: 5_000 });
    let asked = 0;
    const ask = (selection: string, entity: Record<string, unknown>) =>
      cache.fetch({
        subgraph: 'posts',
        schema,
        query: `query($representations:[_Any!]!){_entities(representations:$representations){...on User{${selection}}}}`,
        variables: { representations: [user('1')] },
        viewer: viewer('9'),
        viewerKey: 'u:9',
        send: async () => {
          asked++;
          return { data: { _entities: [entity] } };
        },
      });
    // A post without its id: a change to it could not reach this entity.
    await ask('best{title}', { best: { title: 'a' } });
    await ask('best{title}', { best: { title: 'a' } });
    expect(asked).toBe(2);
    // Drafts have no @cacheControl: maxAge 0.
    await ask('drafts{id}', { drafts: [] });
    await ask('drafts{id}', { drafts: [] });
    expect(asked).toBe(4);
  });

  it('passes any other fetch through', async () => {
    const cache = new EntityCache(await open(onRedis), policy, { localTtlMs: 5_000 });
    let asked = 0;
    const answer = { data: { user: { handle: 'x' } } };
    const fetchUser = () =>
      cache.fetch({
        subgraph: 'users',
        schema,
        query: '{ user(id: "1") { handle } }',
        variables: {},
        viewer: viewer('9'),
        viewerKey: 'u:9',
        send: async () => {
          asked++;
          return answer;
        },
      });
    expect(await fetchUser()).toBe(answer);
    await fetchUser();
    expect(asked).toBe(2);
  });
});

describe('the entity cache on Redis', () => {
  it('another router reads an entity as it was stored, kept in Redis with its data as the JSON it is', async () => {
    const prefix = `${RUN}${stores++}:`;
    const router = async () => {
      const state = openSharedState({ url: REDIS_URL }, prefix);
      opened.push(state);
      expect(await state.connected(5_000)).toBe(true);
      return new EntityCache(state, policy, { localTtlMs: 5_000 });
    };
    // A handle with what JSON escapes inside a string: quotes, a backslash, a newline, non-ASCII.
    const handle = 'a "quoted"\\ line\nand ☃';
    let asked = 0;
    const ask = (cache: EntityCache) =>
      cache.fetch({
        subgraph: 'users',
        schema,
        query: 'query($representations:[_Any!]!){_entities(representations:$representations){...on User{handle}}}',
        variables: { representations: [user('1')] },
        viewer: viewer('9'),
        viewerKey: 'u:9',
        send: async () => {
          asked++;
          return { data: { _entities: [{ handle }] } };
        },
      });
    expect(await ask(await router())).toEqual({ data: { _entities: [{ handle }] } });
    expect(await ask(await router())).toEqual({ data: { _entities: [{ handle }] } });
    expect(asked).toBe(1);
    const redis = createRedis(REDIS_URL, 'entityCache.test');
    await new Promise((resolve) => redis.once('ready', resolve));
    const keys = await redis.keys(`${prefix}entity-v2:*`);
    expect(keys).toHaveLength(1);
    const raw = JSON.parse(storedParts((await redis.get(keys[0]!))!).value) as Record<string, unknown>;
    redis.disconnect();
    expect(raw).toEqual({ storedAt: expect.any(Number), maxAge: 60, tags: ['User:1'], json: { handle } });
  });
});

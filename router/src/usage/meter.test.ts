import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_TIERS,
  createInternalClient,
  createLogger,
  createRedis,
  migrate,
  openDb,
  type Db,
  type InternalClient,
  type SubgraphServer,
} from '@memegraph/service-kit';
import { USERS_MIGRATIONS, createUsersServer, seedUsers } from '@memegraph/users';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { dropKeys } from '../../../test/support/redis';
import { openSharedState, type SharedState } from '../state/shared';
import { createUsageMeter } from './meter';

/**
 * The usage flush against the real users subgraph (its own database on the
 * real PostgreSQL) and the real Redis (a key prefix of this run's own,
 * removed at the end): counts reach `usage_daily` exactly once whatever
 * fails on the way.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `memegraph-unit:${randomBytes(4).toString('hex')}:`;
const SIGNING_SECRET = randomBytes(32).toString('hex');
/** Past the wait after which any router sends a batch another router took and has not acknowledged. */
const LATER = 10 * 60_000;

let database: TestDatabase;
let db: Db;
let users: SubgraphServer;
let usageUrl: URL;
const call = createInternalClient({ caller: 'router', signingSecret: SIGNING_SECRET });
const opened: SharedState[] = [];
let prefixes = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  db = await openDb({ schema: 'users', databaseUrl: database.url, poolSize: 4 });
  await migrate(db, USERS_MIGRATIONS);
  await seedUsers(db, { users: 10 });
  users = await createUsersServer({
    db,
    signingSecret: SIGNING_SECRET,
    log: createLogger('meter.test', 'silent'),
    jwtSecret: randomBytes(32),
    sessionTtlSeconds: 3600,
    tiers: DEFAULT_TIERS,
    billing: null,
  });
  usageUrl = new URL('/internal/usage', await users.listen(0));
});

afterAll(async () => {
  await Promise.all(opened.map((state) => state.close()));
  await users?.close();
  await db?.close();
  await database?.drop();
  const redis = createRedis(REDIS_URL, 'meter.test');
  await new Promise((resolve) => redis.once('ready', resolve));
  await dropKeys(redis, RUN);
  redis.disconnect();
});

/** A router's shared state: on the real Redis under `prefix`, or without Redis. */
async function stateOf(onRedis: boolean, prefix = `${RUN}${prefixes++}:`): Promise<SharedState> {
  const state = onRedis ? openSharedState({ url: REDIS_URL }, prefix) : openSharedState(undefined, prefix);
  opened.push(state);
  if (onRedis) expect(await state.connected(5_000)).toBe(true);
  return state;
}

/** What `usage_daily` holds for a user today. */
async function storedUsage(userId: string) {
  const rows = await db.query<{ requests: string; cost_points: string }>(
    `SELECT requests, cost_points FROM usage_daily WHERE user_id = $1 AND day = $2`,
    [userId, new Date().toISOString().slice(0, 10)],
  );
  return rows.map((r) => ({ requests: Number(r.requests), costPoints: Number(r.cost_points) }));
}

describe('the usage flush counts each request exactly once', () => {
  it.each([
    ['on Redis', true, '1'],
    ['without Redis', false, '2'],
  ])(
    '%s: a batch the users subgraph applied but whose answer was lost counts once after the next flush',
    async (_, onRedis, userId) => {
      let loseAnswer = true;
      // The request arrives and is applied; its answer does not come back.
      const answerLost = (async (url: URL, body: unknown) => {
        const answer = await call(url, body);
        if (!loseAnswer) return answer;
        loseAnswer = false;
        throw new Error('connection reset before the answer');
      }) as InternalClient;
      const meter = createUsageMeter(await stateOf(onRedis), answerLost, usageUrl);
      for (let i = 0; i < 3; i++) await meter.record(userId, 2);

      await meter.flush().catch(() => 0);
      expect(await storedUsage(userId)).toEqual([{ requests: 3, costPoints: 6 }]);
      expect(await meter.flush()).toBe(1);
      expect(await storedUsage(userId)).toEqual([{ requests: 3, costPoints: 6 }]);

      await meter.record(userId, 1);
      expect(await meter.flush()).toBe(1);
      expect(await meter.flush()).toBe(0);
      expect(await storedUsage(userId)).toEqual([{ requests: 4, costPoints: 7 }]);
    },
  );

  it('a flush that takes counts and then reaches neither the users subgraph nor Redis loses nothing', async () => {
    const prefix = `${RUN}blink:`;
    const state = await stateOf(true, prefix);
    let now = Date.now();
    let down = true;
    // The users subgraph is unreachable, and Redis goes away at that moment too.
    const blinking = (async (url: URL, body: unknown) => {
      if (!down) return call(url, body);
      state.redis!.disconnect();
      throw new Error('users subgraph unreachable');
    }) as InternalClient;
    const meter = createUsageMeter(state, blinking, usageUrl, { now: () => now });
    for (let i = 0; i < 3; i++) await meter.record('3', 1);

    await meter.flush().catch(() => 0);
    expect(await storedUsage('3')).toEqual([]);
    expect(await state.redis!.ping().catch(() => 'away')).toBe('away');

    // The users subgraph is back, Redis is not: this router sends what it took from Redis.
    down = false;
    expect(await meter.flush()).toBe(1);
    expect(await storedUsage('3')).toEqual([{ requests: 3, costPoints: 3 }]);

    // Redis still holds the batch (its acknowledgement never reached it): another router sends it
    // again once the wait is over, with its id, and the users subgraph adds nothing.
    now += LATER;
    const other = createUsageMeter(await stateOf(true, prefix), call, usageUrl, { now: () => now });
    expect(await other.flush()).toBe(1);
    expect(await other.flush()).toBe(0);
    expect(await storedUsage('3')).toEqual([{ requests: 3, costPoints: 3 }]);
  });

  it('a batch taken by a router that dies before it hears back is sent by another router once the wait is over', async () => {
    const prefix = `${RUN}dies:`;
    let now = Date.now();
    let sending!: () => void;
    const sent = new Promise<void>((resolve) => (sending = resolve));
    // The router takes a batch and dies while sending it: no answer ever comes back.
    const dies = (() => {
      sending();
      return new Promise(() => undefined);
    }) as InternalClient;
    const dying = createUsageMeter(await stateOf(true, prefix), dies, usageUrl, { now: () => now });
    for (let i = 0; i < 2; i++) await dying.record('4', 5);
    void dying.flush();
    await sent;

    const other = createUsageMeter(await stateOf(true, prefix), call, usageUrl, { now: () => now });
    // Not before the wait is over: the router that took it may still be sending it.
    expect(await other.flush()).toBe(0);
    expect(await storedUsage('4')).toEqual([]);

    now += LATER;
    expect(await other.flush()).toBe(1);
    expect(await storedUsage('4')).toEqual([{ requests: 2, costPoints: 10 }]);
    expect(await other.flush()).toBe(0);
    expect(await storedUsage('4')).toEqual([{ requests: 2, costPoints: 10 }]);
  });
});

describe('POST /internal/usage', () => {
  it('forgets batch ids older than 7 days as it applies new ones', async () => {
    const [old, recent] = [randomUUID(), randomUUID()];
    await db.query(
      `INSERT INTO usage_batches (id, applied_at) VALUES ($1, now() - interval '8 days'), ($2, now() - interval '6 days')`,
      [old, recent],
    );
    const today = new Date().toISOString().slice(0, 10);
    const answer = await call(usageUrl, {
      batches: [{ id: randomUUID(), entries: [{ userId: '5', day: today, requests: 1, costPoints: 1 }] }],
    });
    expect(answer).toEqual({ applied: 1, alreadyApplied: 0 });
    const kept = await db.query<{ id: string }>(`SELECT id FROM usage_batches WHERE id IN ($1, $2)`, [old, recent]);
    expect(kept).toEqual([{ id: recent }]);
  });

  it('refuses a batch without a UUID id, or one id twice, with BAD_USER_INPUT and adds nothing', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const entries = [{ userId: '6', day: today, requests: 1, costPoints: 1 }];
    const id = randomUUID();
    await expect(call(usageUrl, { batches: [{ id: 'one', entries }] })).rejects.toMatchObject({
      message: 'each batch needs an id, a UUID',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    await expect(
      call(usageUrl, {
        batches: [
          { id, entries },
          { id, entries },
        ],
      }),
    ).rejects.toMatchObject({
      message: `batch ${id} is given twice`,
      extensions: { code: 'BAD_USER_INPUT' },
    });
    await expect(call(usageUrl, { batches: { id, entries } })).rejects.toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(await storedUsage('6')).toEqual([]);
    expect(await call(usageUrl, { batches: [{ id, entries }] })).toEqual({ applied: 1, alreadyApplied: 0 });
    expect(await call(usageUrl, { batches: [{ id, entries }] })).toEqual({ applied: 0, alreadyApplied: 1 });
    expect(await storedUsage('6')).toEqual([{ requests: 1, costPoints: 1 }]);
  });

  it('applies the entries of a router of an earlier version, sent without a batch id, as they come', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const entries = [{ userId: '7', day: today, requests: 2, costPoints: 3 }];
    expect(await call(usageUrl, { entries })).toEqual({ applied: 1, alreadyApplied: 0 });
    expect(await call(usageUrl, { entries })).toEqual({ applied: 1, alreadyApplied: 0 });
    expect(await storedUsage('7')).toEqual([{ requests: 4, costPoints: 6 }]);
  });
});

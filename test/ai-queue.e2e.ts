import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIERS, VIEWER_HEADER, secretKey, signViewer } from '@memegraph/service-kit';
import { eventually, signUp, type TestAccount } from './support/accounts';
import { gql } from './support/client';
import { startFakeProvider, type FakeProvider } from './support/fakeProvider';
import { keysOf } from './support/redis';
import { TEST_REDIS_URL, startStack, type Stack } from './support/stack';

let fake: FakeProvider;
let stack: Stack;

const GENERATE = `mutation($p: String!) { generateMeme(input: { prompt: $p }) { id status queuePosition } }`;
const WORKER = fileURLToPath(new URL('../subgraphs/ai/src/worker-main.ts', import.meta.url));

beforeAll(async () => {
  fake = await startFakeProvider({ keys: 4, latencyMs: 40 });
  stack = await startStack({
    users: 10,
    memes: 60,
    // Plenty of requests and points: these tests are about the queue.
    routerEnv: {
      TIERS_JSON: JSON.stringify({
        premium: { requestsPerMinute: 100_000, costBucketCapacity: 10_000_000, costRestorePerSecond: 100_000 },
        enterprise: { requestsPerMinute: 100_000, costBucketCapacity: 10_000_000, costRestorePerSecond: 100_000 },
      }),
    },
    ai: {
      queue: 'bullmq',
      worker: 'none',
      settings: { concurrency: 20, maxWaiting: 500, jobTimeoutMs: 20_000 },
      providerEnv: {
        AI_PROVIDERS: JSON.stringify([{ kind: 'openai', baseUrl: fake.url, model: 'fake', keys: fake.keys }]),
      },
    },
  });
});
afterAll(async () => {
  await stack?.close();
  await fake?.close();
});

async function statuses(ids: string[]) {
  return stack.dbs.ai.query<{
    id: string;
    status: string;
    meme_id: string | null;
    started_at: Date | null;
    finished_at: Date | null;
    priority: number;
  }>(`SELECT id, status, meme_id, started_at, finished_at, priority FROM generations WHERE id = ANY($1::bigint[])`, [
    ids,
  ]);
}

function startWorkerProcess(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: {
      ...process.env,
      DATABASE_URL: stack.databaseUrl,
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_PREFIX: stack.redisPrefix,
      SUBGRAPH_SIGNING_SECRET: stack.secrets.signing,
      MEMES_URL: new URL(stack.subgraphUrls.memes).origin,
      AI_PROVIDERS: JSON.stringify([{ kind: 'openai', baseUrl: fake.url, model: 'fake', keys: fake.keys }]),
      AI_LOCK_DURATION_MS: '2000',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

describe('the generation queue', () => {
  it('a free viewer cannot enqueue anything, through the router or straight to the subgraph', async () => {
    const free = await signUp(stack.routerUrl, 'queue_free');
    const viaRouter = await free.client(GENERATE, { p: 'let me in' });
    expect(viaRouter.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    const header = await signViewer(
      { kind: 'user', userId: free.id, tier: 'free', scopes: DEFAULT_TIERS.free.scopes },
      secretKey(stack.secrets.signing),
    );
    const direct = await gql(stack.subgraphUrls.ai, GENERATE, { p: 'let me in' }, { [VIEWER_HEADER]: header });
    expect(direct.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await stack.dbs.ai.query(`SELECT id FROM generations WHERE user_id = $1`, [free.id])).toEqual([]);
  });

  it('a worker killed mid-job: after a restart every job completes exactly once', async () => {
    const premium = await signUp(stack.routerUrl, 'crash_victim', 'PREMIUM');
    fake.heal();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await premium.client<{ generateMeme: { id: string; status: string } }>(GENERATE, {
        p: `crash test number ${i}`,
      });
      expect(r.body.data!.generateMeme.status).toBe('QUEUED');
      ids.push(r.body.data!.generateMeme.id);
    }
    // On one Redis the jobs wait under the prefix earlier versions used, so an upgrade strands none.
    const redis = new Redis(TEST_REDIS_URL);
    try {
      expect((await keysOf(redis, `${stack.redisPrefix}bull:generations:`)).length).toBeGreaterThan(0);
      expect(await keysOf(redis, `${stack.redisPrefix}{bull}`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    // Slow answers keep jobs in flight when the worker dies.
    const slow = await startFakeProvider({ keys: 2, latencyMs: 1500 });
    const first = startWorkerProcess({
      AI_PROVIDERS: JSON.stringify([{ kind: 'openai', baseUrl: slow.url, model: 'fake', keys: slow.keys }]),
      AI_CONCURRENCY: '4',
    });
    await eventually(async () => (await statuses(ids)).some((r) => r.status === 'RUNNING'), 20_000, 50);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const running = (await statuses(ids)).filter((r) => r.status === 'RUNNING').length;
    expect(running).toBeGreaterThan(0);

    const second = startWorkerProcess({ AI_CONCURRENCY: '4' });
    try {
      await eventually(async () => (await statuses(ids)).every((r) => r.status === 'SUCCEEDED'), 30_000, 100);
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
      await slow.close();
    }
    const rows = await statuses(ids);
    const memes = await stack.dbs.memes.query<{ generation_id: string; n: string }>(
      `SELECT generation_id, count(*) AS n FROM memes WHERE generation_id = ANY($1::text[]) GROUP BY generation_id`,
      [ids],
    );
    expect(memes).toHaveLength(ids.length);
    expect(memes.every((m) => m.n === '1')).toBe(true);
    expect(new Set(rows.map((r) => r.meme_id)).size).toBe(ids.length);
  }, 90_000);

  it('600 concurrent requests from mixed tiers: each ends as a meme or a coded rejection, enterprise before premium', async () => {
    fake.heal();
    const accounts: { account: TestAccount; tier: 'ENTERPRISE' | 'PREMIUM' }[] = [];
    for (let i = 0; i < 10; i++) {
      const tier = i % 2 === 0 ? 'ENTERPRISE' : 'PREMIUM';
      accounts.push({ account: await signUp(stack.routerUrl, `burst_${i}`, tier), tier });
    }
    const started = Date.now();
    // All 600 are queued before a worker runs, so they were "queued at the same time".
    const responses = await Promise.all(
      Array.from({ length: 600 }, (_, i) => {
        const { account, tier } = accounts[i % accounts.length]!;
        return account
          .client<{ generateMeme: { id: string; status: string; queuePosition: number | null } }>(GENERATE, {
            p: `burst ${tier} ${i}`,
          })
          .then((r) => ({ r, tier, account }));
      }),
    );
    const accepted = responses.filter(({ r }) => r.body.data?.generateMeme);
    const rejected = responses.filter(({ r }) => !r.body.data?.generateMeme);
    for (const { r } of rejected) {
      expect(['QUEUE_OVERLOADED', 'RATE_LIMIT_EXCEEDED']).toContain(r.body.errors?.[0]?.extensions?.code);
      expect([429, 503]).toContain(r.status);
    }
    expect(accepted.length + rejected.length).toBe(600);

    // Every answer queued so far has its place in line.
    for (const { r } of accepted) {
      expect(r.body.data!.generateMeme.status).toBe('QUEUED');
      expect(r.body.data!.generateMeme.queuePosition).toBeGreaterThanOrEqual(1);
    }

    stack.startAiWorker();
    const ids = accepted.map(({ r }) => r.body.data!.generateMeme.id);
    // While workers take jobs, owners keep asking: a generation reported QUEUED always has a
    // place in line, even when a worker takes it between the two reads.
    const seen: { status: string; queuePosition: number | null }[] = [];
    await eventually(
      async () => {
        const asked = await Promise.all(
          accepted
            .slice(0, 40)
            .map(({ r, account }) =>
              account.client<{ generation: { status: string; queuePosition: number | null } }>(
                `query($id: ID!) { generation(id: $id) { status queuePosition } }`,
                { id: r.body.data!.generateMeme.id },
              ),
            ),
        );
        seen.push(...asked.map((a) => a.body.data!.generation));
        return (await statuses(ids)).every((r) => r.status === 'SUCCEEDED' || r.status === 'FAILED');
      },
      60_000,
      200,
    );
    const queued = seen.filter((g) => g.status === 'QUEUED');
    expect(queued.length).toBeGreaterThan(0);
    expect(queued.filter((g) => !(typeof g.queuePosition === 'number' && g.queuePosition >= 1))).toEqual([]);
    expect(seen.filter((g) => g.status !== 'QUEUED' && g.queuePosition !== null)).toEqual([]);
    const rows = await statuses(ids);
    const seconds = (Date.now() - started) / 1000;
    const succeeded = rows.filter((r) => r.status === 'SUCCEEDED').length;
    console.log(
      `600 generateMeme requests: ${succeeded} memes, ${rows.length - succeeded} failed jobs, ${rejected.length} coded rejections; ` +
        `success rate ${((succeeded / 600) * 100).toFixed(1)}%, total ${seconds.toFixed(1)} s`,
    );
    expect(succeeded).toBe(rows.length);
    const enterprise = rows.filter((r) => r.priority === DEFAULT_TIERS.enterprise.aiPriority);
    const premium = rows.filter((r) => r.priority === DEFAULT_TIERS.premium.aiPriority);
    expect(enterprise.length).toBeGreaterThan(0);
    expect(premium.length).toBeGreaterThan(0);
    // Workers take every enterprise job before any premium one; only the jobs already being
    // picked up at that moment (at most the concurrency) may record their start a little later.
    const firstPremiumStart = Math.min(...premium.map((r) => r.started_at!.getTime()));
    const lateEnterprise = enterprise.filter((r) => r.started_at!.getTime() > firstPremiumStart).length;
    expect(lateEnterprise).toBeLessThanOrEqual(20);
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    expect(median(enterprise.map((r) => r.finished_at!.getTime()))).toBeLessThan(
      median(premium.map((r) => r.finished_at!.getTime())),
    );
    expect(Math.max(...enterprise.map((r) => r.finished_at!.getTime()))).toBeLessThan(
      median(premium.map((r) => r.finished_at!.getTime())),
    );
  }, 120_000);

  it('a repeated prompt within ten minutes makes no provider call', async () => {
    const premium = await signUp(stack.routerUrl, 'repeat_prompter', 'PREMIUM');
    const first = await premium.client<{ generateMeme: { id: string } }>(GENERATE, { p: 'Deja vu all over again' });
    const done = await premium.client<{ generation: { status: string; meme: { id: string } } }>(
      `query($id: ID!) { generation(id: $id, waitSeconds: 10) { status meme { id } } }`,
      { id: first.body.data!.generateMeme.id },
    );
    expect(done.body.data!.generation.status).toBe('SUCCEEDED');
    const calls = fake.totalCalls();
    const again = await premium.client<{ generateMeme: { status: string } }>(
      `mutation { generateMeme(input: { prompt: "  deja VU all over   again " }) { status meme { id } } }`,
    );
    expect(again.body.data!.generateMeme).toEqual({
      status: 'SUCCEEDED',
      meme: { id: done.body.data!.generation.meme.id },
    });
    expect(fake.totalCalls()).toBe(calls);
  });

  it('aiStatus reports the queue and every key to operators only, never a key itself', async () => {
    const operator = await signUp(stack.routerUrl, 'queue_operator');
    const STATUS = `{ aiStatus { waiting active succeeded failed meanWaitSeconds meanRunSeconds keys { provider key breaker successes failures } } }`;
    const refused = await operator.client(STATUS);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    await stack.dbs.users.query(`UPDATE users SET is_admin = true WHERE id = $1`, [operator.id]);
    const admin = await signUp(stack.routerUrl, 'queue_admin');
    await stack.dbs.users.query(`UPDATE users SET is_admin = true WHERE id = $1`, [admin.id]);
    const status = await admin.client<{ aiStatus: { succeeded: number; keys: { key: string; breaker: string }[] } }>(
      STATUS,
    );
    expect(status.body.errors).toBeUndefined();
    expect(status.body.data!.aiStatus.succeeded).toBeGreaterThan(500);
    expect(status.body.data!.aiStatus.keys.length).toBeGreaterThanOrEqual(4);
    const text = JSON.stringify(status.body);
    for (const key of fake.keys) expect(text).not.toContain(key);
  });

  it('a finished AI meme shows in the premium feed at once: the worker purges cached lists', async () => {
    const premium = await signUp(stack.routerUrl, 'feed_watcher', 'PREMIUM');
    const FEED = `{ feed(first: 5) { edges { node { id origin } } } }`;
    await premium.client(FEED);
    expect((await premium.client(FEED)).headers.get('x-cache')).toBe('HIT');
    const started = await premium.client<{ generateMeme: { id: string } }>(GENERATE, { p: 'straight into the feed' });
    const done = await premium.client<{ generation: { meme: { id: string } } }>(
      `query($id: ID!) { generation(id: $id, waitSeconds: 10) { meme { id } } }`,
      { id: started.body.data!.generateMeme.id },
    );
    const memeId = done.body.data!.generation.meme.id;
    const ms = await eventually(async () => {
      const feed = await premium.client<{ feed: { edges: { node: { id: string } }[] } }>(FEED);
      return feed.body.data!.feed.edges.some((e) => e.node.id === memeId);
    });
    expect(ms).toBeLessThan(1000);
  });
});

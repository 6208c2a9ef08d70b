/**
 * Read replicas (DATABASE_REPLICA_URLS) on a real streaming replica: a
 * PostgreSQL primary and a hot standby made with pg_basebackup, both started
 * by this test. Reads reach the replica, a voter sees their vote at once
 * through another router, a replica held behind or stopped is skipped
 * without a failed request. The replicas are polled by the test, on a clock
 * of its own, so "behind by more than REPLICA_MAX_LAG_MS" needs no waiting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp, type TestAccount } from './support/accounts';
import { routerClient } from './support/client';
import { startReplicatedPostgres, type LocalReplicatedPostgres } from './support/pgReplica';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

const MAX_LAG_MS = 1_000;
const MEME = `query($id: ID!) { meme(id: $id) { id score viewerVote } }`;
const VOTE = `mutation($id: ID!, $v: Int!) { vote(memeId: $id, value: $v) { id score viewerVote } }`;
// Anonymous readers ask for pages no one asked for before, so the router's response cache never answers them.
const PAGE = `query($n: Int!) { memes(first: $n) { edges { node { id score } } } }`;

let postgres: LocalReplicatedPostgres;
let stack: Stack;
let clock = Date.now();
let otherRouter: string;
let voter: TestAccount;
let page = 1;

/** Statements the memes subgraph sent, by target and reason, from its /metrics. */
async function routed(): Promise<Record<string, number>> {
  const text = await (await fetch(`${new URL(stack.subgraphUrls.memes).origin}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, labels, value] of text.matchAll(/^db_statements_routed_total\{([^}]*)\} (\S+)$/gm)) {
    const target = /target="([^"]+)"/.exec(labels!)![1]!;
    const reason = /reason="([^"]+)"/.exec(labels!)![1]!;
    counts[`${target}/${reason}`] = Number(value);
  }
  return counts;
}

const delta = (before: Record<string, number>, after: Record<string, number>, key: string) =>
  (after[key] ?? 0) - (before[key] ?? 0);

/** Polls every subgraph's replicas now. */
const poll = () => Promise.all(Object.values(stack.dbs).map((db) => db.replicas!.poll()));

/** An anonymous read of a page of memes no one read before; fails the test on any error. */
async function anonymousPage(): Promise<{ id: string; score: number }[]> {
  const response = await routerClient(stack.routerUrl)<{ memes: { edges: { node: { id: string; score: number } }[] } }>(
    PAGE,
    { n: page++ },
  );
  expect(response.status).toBe(200);
  expect(response.body.errors).toBeUndefined();
  return response.body.data!.memes.edges.map((e) => e.node);
}

beforeAll(async () => {
  postgres = await startReplicatedPostgres();
  stack = await startStack({
    memes: 60,
    routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS },
    replicated: {
      primaryUrl: postgres.primaryUrl,
      replicaUrls: [postgres.replicaUrl],
      maxLagMs: MAX_LAG_MS,
      now: () => clock,
    },
  });
  otherRouter = await stack.addRouter();
  voter = await signUp(stack.routerUrl, 'replica_voter');
  // The replica has replayed the seeds and the sign-up.
  await eventually(async () => {
    await poll();
    return stack.dbs.memes.replicas!.status()[0]!.lagMs === 0;
  }, 10_000);
}, 60_000);

afterAll(async () => {
  try {
    await stack?.close();
  } finally {
    // The servers are this test's own: stopped whatever happened before.
    await postgres?.close();
  }
});

describe('read replicas', () => {
  it('send reads to the replica and report its lag', async () => {
    const before = await routed();
    await anonymousPage();
    const after = await routed();
    expect(delta(before, after, 'replica/replica')).toBeGreaterThan(0);
    expect(delta(before, after, 'primary/no-replica')).toBe(0);
    const metrics = await (await fetch(`${new URL(stack.subgraphUrls.memes).origin}/metrics`)).text();
    expect(metrics).toMatch(/^db_replica_lag_seconds\{replica="127\.0\.0\.1:\d+",service="memes"\} 0$/m);
    expect(metrics).toMatch(/^db_replica_up\{replica="127\.0\.0\.1:\d+",service="memes"\} 1$/m);
  });

  it('show a voter their vote at once, through another router, while the replica has not replayed it', async () => {
    const [meme] = await anonymousPage();
    await postgres.onReplica('SELECT pg_wal_replay_pause()');
    try {
      const voted = await voter.client(VOTE, { id: meme!.id, v: 1 });
      expect(voted.body.errors).toBeUndefined();
      const score = (voted.body.data as { vote: { score: number } }).vote.score;
      expect(score).toBe(meme!.score + 1);

      const before = await routed();
      const asVoter = routerClient(otherRouter, { authorization: `Bearer ${voter.token}` });
      const read = await asVoter<{ meme: { score: number; viewerVote: number } }>(MEME, { id: meme!.id });
      expect(read.body.errors).toBeUndefined();
      expect(read.body.data!.meme).toMatchObject({ score, viewerVote: 1 });
      const after = await routed();
      expect(delta(before, after, 'primary/read-your-writes')).toBeGreaterThan(0);
      expect(delta(before, after, 'replica/replica')).toBe(0);

      // Others still read the replica (it is within REPLICA_MAX_LAG_MS): it has not replayed the vote.
      const stale = await routerClient(otherRouter)<{ meme: { score: number } }>(
        `query($id: ID!) { stale: meme(id: $id) { score } }`,
        { id: meme!.id },
      );
      expect((stale.body.data as unknown as { stale: { score: number } }).stale.score).toBe(meme!.score);
      expect(delta(after, await routed(), 'replica/replica')).toBeGreaterThan(0);

      // Past REPLICA_MAX_LAG_MS behind, the replica is skipped: everyone reads the primary.
      await poll(); // the primary's position now, which the replica lacks
      expect(stack.dbs.memes.replicas!.status()[0]!.lagMs).toBe(0);
      clock += MAX_LAG_MS + 1;
      await poll();
      expect(stack.dbs.memes.replicas!.status()[0]!.lagMs).toBeGreaterThan(MAX_LAG_MS);
      const skippedFrom = await routed();
      const current = await routerClient(otherRouter)<{ current: { score: number } }>(
        `query($id: ID!) { current: meme(id: $id) { score } }`,
        { id: meme!.id },
      );
      expect(current.body.data!.current.score).toBe(score);
      const skipped = await routed();
      expect(delta(skippedFrom, skipped, 'replica/replica')).toBe(0);
      expect(delta(skippedFrom, skipped, 'primary/no-replica')).toBeGreaterThan(0);
      const metrics = await (await fetch(`${new URL(stack.subgraphUrls.memes).origin}/metrics`)).text();
      expect(metrics).toMatch(/^db_replica_up\{replica="[^"]+",service="memes"\} 0$/m);
    } finally {
      await postgres.onReplica('SELECT pg_wal_replay_resume()');
    }
    // Caught up, it is read again.
    await eventually(async () => {
      await poll();
      return stack.dbs.memes.replicas!.status()[0]!.lagMs === 0;
    }, 10_000);
    const before = await routed();
    await anonymousPage();
    expect(delta(before, await routed(), 'replica/replica')).toBeGreaterThan(0);
  });

  it('skip a replica that stops answering, without a failed request', async () => {
    await poll();
    expect(stack.dbs.memes.replicas!.status()[0]!.up).toBe(true);
    await postgres.freezeReplica(true);
    try {
      // The read waits for the replica at most 5 s, then runs on the primary; the replica is skipped after.
      const before = await routed();
      await anonymousPage();
      expect(stack.dbs.memes.replicas!.status()[0]!.up).toBe(false);
      const after = await routed();
      expect(delta(before, after, 'primary/replica-failed')).toBeGreaterThan(0);
      await anonymousPage();
      expect(delta(after, await routed(), 'primary/no-replica')).toBeGreaterThan(0);
      // A poll of a replica that does not answer ends too, and keeps it out.
      await poll();
      expect(stack.dbs.memes.replicas!.status()[0]!.up).toBe(false);
    } finally {
      await postgres.freezeReplica(false);
    }
    await eventually(async () => {
      await poll();
      return stack.dbs.memes.replicas!.status()[0]!.up;
    }, 10_000);
  }, 30_000);

  it('lose no request while the replica stops and starts again', async () => {
    const reader = routerClient(stack.routerUrl, { authorization: `Bearer ${voter.token}` });
    const failures: unknown[] = [];
    let running = true;
    // Readers keep asking (signed in: every answer is the viewer's own, so none comes from the response cache).
    const readers = Array.from({ length: 4 }, async (_, i) => {
      let n = 0;
      while (running) {
        const response = await reader(`query($n: Int!) { memes(first: $n) { edges { node { id viewerVote } } } }`, {
          n: 1 + ((i * 7 + n++) % 40),
        });
        if (response.status !== 200 || response.body.errors) failures.push(response.body);
      }
      return n;
    });
    await postgres.stopReplica();
    const whileDown = await routed();
    await Promise.all(Array.from({ length: 20 }, () => anonymousPage()));
    expect(stack.dbs.memes.replicas!.status()[0]!.up).toBe(false);
    const down = await routed();
    expect(delta(whileDown, down, 'replica/replica')).toBe(0);

    await postgres.startReplica();
    await eventually(async () => {
      await poll();
      return stack.dbs.memes.replicas!.status()[0]!.up;
    }, 10_000);
    await anonymousPage();
    expect(delta(down, await routed(), 'replica/replica')).toBeGreaterThan(0);
    running = false;
    const served = await Promise.all(readers);
    expect(served.reduce((a, b) => a + b, 0)).toBeGreaterThan(4);
    expect(failures).toEqual([]);
  });
});

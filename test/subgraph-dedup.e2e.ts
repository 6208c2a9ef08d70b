import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp, type TestAccount } from './support/accounts';
import { routerClient } from './support/client';
import { startGate, type Gate } from './support/gate';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

let stack: Stack;
let gate: Gate;
let routerUrl: string;
let alice: TestAccount;
let memeId: string;

/** What the router's /metrics says it saved on the memes subgraph (0 while nothing has been). */
async function sharedMemesFetches(): Promise<number> {
  const text = await (await fetch(`${routerUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('subgraph_fetches_shared_total{') && l.includes('subgraph="memes"'));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/**
 * Sends `requests` at once with the gate shut, and lets them through once
 * every one has either reached the memes subgraph or joined a fetch in flight.
 */
async function together<T>(requests: (() => Promise<T>)[]): Promise<{ answers: T[]; memes: number; users: number }> {
  const before = { memes: gate.arrivals, users: stack.subgraphRequests().users };
  gate.hold();
  const answers = Promise.all(requests.map((send) => send()));
  const sharedBefore = await sharedMemesFetches();
  try {
    await eventually(
      async () => gate.arrivals - before.memes + (await sharedMemesFetches()) - sharedBefore >= requests.length,
      30_000,
    );
  } finally {
    gate.release();
  }
  return {
    answers: await answers,
    memes: gate.arrivals - before.memes,
    users: stack.subgraphRequests().users - before.users,
  };
}

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 30, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  gate = await startGate(stack.subgraphUrls.memes);
  routerUrl = await stack.addRouter({ SUBGRAPH_URL_MEMES: gate.url });
  alice = await signUp(routerUrl, 'dedup_alice');
  const trending = await routerClient(routerUrl)<{ trending: { id: string }[] }>('{ trending(first: 1) { id } }');
  memeId = trending.body.data!.trending[0]!.id;
}, 60_000);
afterAll(async () => {
  await stack?.close();
  await gate?.close();
});

// rateLimit is answered by the router and never cached: every one of these is executed.
const PAGE = `query Page { trending(first: 5) { id title author { handle } } rateLimit { cost } }`;

describe('identical subgraph fetches in flight', () => {
  it('are sent once for concurrent identical queries, and every client gets the whole answer', async () => {
    const expected = await routerClient(routerUrl)<{ trending: unknown[] }>(PAGE);
    expect(expected.body.errors).toBeUndefined();
    const n = 8;
    const { answers, memes, users } = await together(
      Array.from({ length: n }, () => () => routerClient(routerUrl)<{ trending: unknown[] }>(PAGE)),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data!.trending).toEqual(expected.body.data!.trending);
    }
    // The plan: trending from memes, then the authors from users; n of each without sharing.
    expect(memes).toBe(1);
    expect(memes + users).toBeLessThan(2 * n);
  });

  it('are never shared between viewers with different signed contexts', async () => {
    const voted = await alice.client(`mutation($id: ID!) { vote(memeId: $id, value: 1) { id viewerVote } }`, {
      id: memeId,
    });
    expect(voted.body.errors).toBeUndefined();
    const query = `query($id: ID!) { meme(id: $id) { id viewerVote } rateLimit { cost } }`;
    const anonymous = routerClient(routerUrl);
    const { answers, memes } = await together([
      () => anonymous(query, { id: memeId }),
      () => alice.client(query, { id: memeId }),
      () => anonymous(query, { id: memeId }),
      () => alice.client(query, { id: memeId }),
    ]);
    expect(answers.map((a) => (a.body.data as { meme: { viewerVote: number | null } }).meme.viewerVote)).toEqual([
      null,
      1,
      null,
      1,
    ]);
    expect(memes).toBe(2);
  });

  it('are never shared for mutations', async () => {
    const n = 4;
    const mutation = `mutation($id: ID!) { vote(memeId: $id, value: -1) { id viewerVote } }`;
    const { answers, memes } = await together(
      Array.from({ length: n }, () => () => alice.client(mutation, { id: memeId })),
    );
    for (const answer of answers) {
      expect(answer.body.errors).toBeUndefined();
      expect((answer.body.data as { vote: { viewerVote: number } }).vote.viewerVote).toBe(-1);
    }
    expect(memes).toBe(n);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp, type TestAccount } from './support/accounts';
import { routerClient } from './support/client';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

let stack: Stack;
/** Two routers of one deployment (same Redis), and one without the entity cache, for reference answers. */
let routerA: string;
let routerB: string;
let plain: string;

/** What a router's /metrics says its entity cache served (hit) and fetched (miss), over every subgraph. */
async function entityCounts(url: string): Promise<{ hit: number; miss: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (result: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith('entity_cache_entities_total{') && l.includes(`result="${result}"`))
      .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  return { hit: sum('hit'), miss: sum('miss') };
}

/** Subgraph requests `send` caused, by subgraph. */
async function counted<T>(send: () => Promise<T>): Promise<{ answer: T; users: number; memes: number }> {
  const before = stack.subgraphRequests();
  const answer = await send();
  const after = stack.subgraphRequests();
  return { answer, users: after.users - before.users, memes: after.memes - before.memes };
}

beforeAll(async () => {
  stack = await startStack({ users: 12, memes: 120, routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } });
  routerA = stack.routerUrl;
  routerB = await stack.addRouter();
  plain = await stack.addRouter({ ENTITY_CACHE: 'false' });
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

type Page = {
  memes: { edges: { node: { id: string; title: string; author: { handle: string }; template: { name: string } } }[] };
};
const PAGE = `query($first: Int!) { memes(first: $first) { edges { node { id title author { handle } template { name } } } } }`;

describe('the entity cache', () => {
  it('answers a page miss whose authors and templates are cached with its root fetch only', async () => {
    const anonymous = routerClient(routerA);
    const first = await counted(() => anonymous<Page>(PAGE, { first: 8 }));
    expect(first.answer.body.errors).toBeUndefined();
    // The plan: the page (templates with it) from memes, then the authors from users.
    expect(first).toMatchObject({ memes: 1, users: 1 });
    const before = await entityCounts(routerA);
    // Another page (a response-cache miss) of memes whose authors the first one fetched.
    const second = await counted(() => anonymous<Page>(PAGE, { first: 5 }));
    expect(second.answer.body.errors).toBeUndefined();
    expect(second).toMatchObject({ memes: 1, users: 0 });
    // The same answer as a router without the entity cache gives, in the same order.
    const reference = await routerClient(plain)<Page>(PAGE, { first: 5 });
    expect(second.answer.body.data).toEqual(reference.body.data);
    const after = await entityCounts(routerA);
    expect(after.hit - before.hit).toBe(5);
    expect(after.miss - before.miss).toBe(0);
    // Another router finds them in Redis.
    const elsewhere = await counted(() => routerClient(routerB)<Page>(PAGE, { first: 3 }));
    expect(elsewhere.answer.body.data).toEqual((await routerClient(plain)<Page>(PAGE, { first: 3 })).body.data);
    expect(elsewhere).toMatchObject({ memes: 1, users: 0 });
  });

  it('fetches only the entities it lacks, and stitches them back in order', async () => {
    const anonymous = routerClient(routerB);
    await anonymous<Page>(PAGE, { first: 4 });
    // Twelve memes: the four first ones' authors are cached, the others' are fetched, each once.
    const wider = await counted(() => anonymous<Page>(PAGE, { first: 12 }));
    expect(wider.answer.body.errors).toBeUndefined();
    expect(wider.users).toBeLessThanOrEqual(1);
    expect(wider.answer.body.data).toEqual((await routerClient(plain)<Page>(PAGE, { first: 12 })).body.data);
  });
});

describe('the entity cache across routers', () => {
  let alice: TestAccount;
  const memesOf = (alias: string) =>
    `query($id: ID!) { ${alias}: user(id: $id) { handle memes(first: 5) { edges { node { id title score } } } } }`;
  type Memes = Record<string, { memes: { edges: { node: { id: string; title: string; score: number } }[] } }>;
  const titles = (body: { data?: Memes | null }, alias: string) =>
    body.data![alias]!.memes.edges.map((e) => e.node.title);

  beforeAll(async () => {
    alice = await signUp(routerA, 'entity_alice');
    const made = await alice.client(
      `mutation { createMeme(input: { title: "first of alice", topText: "a", bottomText: "b", templateId: "1" }) { id } }`,
    );
    expect(made.body.errors).toBeUndefined();
  });

  it('serves a fresh value on router B after a change through router A', async () => {
    const reader = routerClient(routerB);
    const cold = await counted(() => reader<Memes>(memesOf('a'), { id: alice.id }));
    expect(titles(cold.answer.body, 'a')).toEqual(['first of alice']);
    expect(cold.memes).toBe(1);
    // Another query (a response-cache miss) with the same entity fetch: answered from the entity cache.
    const warm = await counted(() => reader<Memes>(memesOf('b'), { id: alice.id }));
    expect(titles(warm.answer.body, 'b')).toEqual(['first of alice']);
    expect(warm.memes).toBe(0);

    const made = await alice.client(
      `mutation { createMeme(input: { title: "second of alice", topText: "a", bottomText: "b", templateId: "1" }) { id } }`,
    );
    expect(made.body.errors).toBeUndefined();
    let seen: string[] = [];
    let n = 0;
    await eventually(async () => {
      seen = titles((await reader<Memes>(memesOf(`c${n}`), { id: alice.id })).body, `c${n++}`);
      return seen.length === 2;
    }, 5_000);
    expect(seen).toEqual(['second of alice', 'first of alice']);

    // A vote on a meme inside the cached entity (its score) reaches it too.
    const memeId = (await reader<Memes>(memesOf('d'), { id: alice.id })).body.data!.d!.memes.edges[0]!.node.id;
    const voted = await alice.client(`mutation($id: ID!) { vote(memeId: $id, value: 1) { id score } }`, { id: memeId });
    expect(voted.body.errors).toBeUndefined();
    let score = 0;
    await eventually(async () => {
      const body = (await reader<Memes>(memesOf(`e${n}`), { id: alice.id })).body;
      score = body.data![`e${n++}`]!.memes.edges.find((e) => e.node.id === memeId)!.node.score;
      return score === 1;
    }, 5_000);
    expect(score).toBe(1);
  });
});

describe('the entity cache and what viewers may see', () => {
  let premium: TestAccount;
  let free: TestAccount;
  let other: TestAccount;
  /** A seeded user with an AI meme (seen by premium viewers only). */
  let author: string;
  const memesOf = (alias: string, first: number) =>
    `query($id: ID!) { ${alias}: user(id: $id) { memes(first: ${first}) { edges { node { id origin viewerVote } } } } }`;
  type Nodes = Record<
    string,
    { memes: { edges: { node: { id: string; origin: string; viewerVote: number | null } }[] } }
  >;
  const nodes = (body: { data?: Nodes | null; errors?: unknown }, alias: string) => {
    expect(body.errors).toBeUndefined();
    return body.data![alias]!.memes.edges.map((e) => e.node);
  };

  beforeAll(async () => {
    premium = await signUp(routerA, 'entity_premium', 'PREMIUM');
    free = await signUp(routerA, 'entity_free');
    other = await signUp(routerA, 'entity_other');
    const page = await premium.client<{ memes: { edges: { node: { origin: string; author: { id: string } } }[] } }>(
      `{ memes(first: 100) { edges { node { origin author { id } } } } }`,
    );
    author = page.body.data!.memes.edges.find((e) => e.node.origin === 'AI')!.node.author.id;
  });

  it('never serves a premium viewer’s entities to a free viewer, nor the other way round', async () => {
    // Premium first: the author's memes with the AI ones.
    const seenByPremium = nodes((await premium.client<Nodes>(memesOf('p', 50), { id: author })).body, 'p');
    expect(seenByPremium.some((m) => m.origin === 'AI')).toBe(true);
    const seenByFree = nodes((await free.client<Nodes>(memesOf('f', 50), { id: author })).body, 'f');
    expect(seenByFree.length).toBeGreaterThan(0);
    expect(seenByFree.some((m) => m.origin === 'AI')).toBe(false);
    // Free first, on another page size: premium still gets its own.
    const freeFirst = nodes((await free.client<Nodes>(memesOf('g', 49), { id: author })).body, 'g');
    expect(freeFirst.some((m) => m.origin === 'AI')).toBe(false);
    const premiumAfter = nodes((await premium.client<Nodes>(memesOf('q', 49), { id: author })).body, 'q');
    expect(premiumAfter.some((m) => m.origin === 'AI')).toBe(true);
  });

  it('keeps a PRIVATE field per viewer', async () => {
    const meme = nodes((await free.client<Nodes>(memesOf('h', 50), { id: author })).body, 'h')[0]!.id;
    expect(
      (await free.client(`mutation($id: ID!) { vote(memeId: $id, value: 1) { id } }`, { id: meme })).body.errors,
    ).toBeUndefined();
    expect(
      (await other.client(`mutation($id: ID!) { vote(memeId: $id, value: -1) { id } }`, { id: meme })).body.errors,
    ).toBeUndefined();
    const voteOf = (body: { data?: Nodes | null }, alias: string) =>
      nodes(body, alias).find((m) => m.id === meme)!.viewerVote;
    // The same tier and scopes, the same entity fetch: each sees their own vote, anonymous none.
    expect(voteOf((await free.client<Nodes>(memesOf('i', 40), { id: author })).body, 'i')).toBe(1);
    expect(voteOf((await other.client<Nodes>(memesOf('j', 40), { id: author })).body, 'j')).toBe(-1);
    expect(voteOf((await routerClient(routerB)<Nodes>(memesOf('k', 40), { id: author })).body, 'k')).toBeNull();
    // And again, from the cache: each still their own.
    expect(voteOf((await other.client<Nodes>(memesOf('l', 40), { id: author })).body, 'l')).toBe(-1);
    expect(voteOf((await free.client<Nodes>(memesOf('m', 40), { id: author })).body, 'm')).toBe(1);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIERS, VIEWER_HEADER, secretKey, signViewer, type Viewer } from '@memegraph/service-kit';
import { eventually, signUp, subscribeTo } from './support/accounts';
import { gql, routerClient } from './support/client';
import { startStack, type Stack } from './support/stack';

let stack: Stack;
let routerB: string;
let aiMemeId: string;

beforeAll(async () => {
  stack = await startStack({ users: 20, memes: 100 });
  routerB = await stack.addRouter();
  const [row] = await stack.dbs.memes.query<{ id: string }>(
    `SELECT id FROM memes WHERE origin = 'AI' ORDER BY id LIMIT 1`,
  );
  aiMemeId = row!.id;
});
afterAll(() => stack?.close());

const EVERY_PATH = `query($id: ID!) {
  meme(id: $id) { id origin }
  memes(first: 100) { edges { node { id origin } } }
  feed(first: 100) { edges { node { id origin } } }
  trending(first: 100) { id origin }
  search(text: "ai", first: 100) { id origin }
}`;

type Origins = {
  meme: { origin: string } | null;
  memes: { edges: { node: { origin: string } }[] };
  feed: { edges: { node: { origin: string } }[] };
  trending: { origin: string }[];
  search: { origin: string }[];
};

const origins = (data: Origins) => [
  ...(data.meme ? [data.meme.origin] : []),
  ...data.memes.edges.map((e) => e.node.origin),
  ...data.feed.edges.map((e) => e.node.origin),
  ...data.trending.map((m) => m.origin),
  ...data.search.map((m) => m.origin),
];

describe('premium content', () => {
  it('a free viewer gets no AI meme by any path; a premium viewer gets them', async () => {
    const free = await signUp(stack.routerUrl, 'free_viewer');
    const premium = await signUp(stack.routerUrl, 'premium_viewer', 'ENTERPRISE');
    const tiers = JSON.stringify({
      free: { maxCostPerOperation: 100_000 },
      enterprise: { maxCostPerOperation: 100_000 },
    });
    const generous = await stack.addRouter({ TIERS_JSON: tiers });
    const asFree = routerClient(generous, { authorization: `Bearer ${free.token}` });
    const asPremium = routerClient(generous, { authorization: `Bearer ${premium.token}` });

    const freeView = await asFree<Origins>(EVERY_PATH, { id: aiMemeId });
    expect(freeView.body.errors).toBeUndefined();
    expect(freeView.body.data!.meme).toBeNull();
    expect(origins(freeView.body.data!)).not.toContain('AI');
    expect(origins(freeView.body.data!).length).toBeGreaterThan(100);

    const premiumView = await asPremium<Origins>(EVERY_PATH, { id: aiMemeId });
    expect(premiumView.body.data!.meme).toEqual({ id: aiMemeId, origin: 'AI' });
    expect(origins(premiumView.body.data!)).toContain('AI');

    // The free viewer's answer is not the premium viewer's, asked again in either order.
    const again = await asFree<Origins>(EVERY_PATH, { id: aiMemeId });
    expect(origins(again.body.data!)).not.toContain('AI');

    // Straight to the subgraph with a free viewer's signature: _entities refuses the AI meme too.
    const freeViewer: Viewer = { kind: 'user', userId: free.id, tier: 'free', scopes: DEFAULT_TIERS.free.scopes };
    const direct = await gql<{ _entities: unknown[] }>(
      stack.subgraphUrls.memes,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Meme { id origin } } }`,
      { r: [{ __typename: 'Meme', id: aiMemeId }] },
      { [VIEWER_HEADER]: await signViewer(freeViewer, secretKey(stack.secrets.signing)) },
    );
    expect(direct.body.data!._entities).toEqual([null]);

    // And the image of an AI meme is not served without the signature only premium viewers receive.
    expect((await fetch(`${stack.routerUrl}/images/${aiMemeId}.svg`)).status).toBe(404);
  });

  it('an AI-only field comes back null with UNAUTHORIZED_FIELD_OR_TYPE at its path, the rest is served, and the subgraph never sees it', async () => {
    const free = await signUp(stack.routerUrl, 'curious_free');
    const premium = await signUp(stack.routerUrl, 'paying_member', 'PREMIUM');
    const started = await premium.client<{ generateMeme: { id: string } }>(
      `mutation { generateMeme(input: { prompt: "secret sauce" }) { id } }`,
    );
    const finished = await premium.client<{ generation: { meme: { id: string } } }>(
      `query($id: ID!) { generation(id: $id, waitSeconds: 5) { meme { id } } }`,
      { id: started.body.data!.generateMeme.id },
    );
    const id = finished.body.data!.generation.meme.id;
    const human = (
      await stack.dbs.memes.query<{ id: string }>(`SELECT id FROM memes WHERE origin = 'HUMAN' ORDER BY id LIMIT 1`)
    )[0]!.id;
    const QUERY = `query($id: ID!) { meme(id: $id) { id title prompt } }`;

    const forPremium = await premium.client<{ meme: { prompt: string } }>(QUERY, { id });
    expect(forPremium.body.data!.meme.prompt).toBe('secret sauce');

    const forFree = await free.client<{ meme: { id: string; title: string; prompt: null } }>(QUERY, { id: human });
    expect(forFree.status).toBe(200);
    expect(forFree.body.data!.meme).toMatchObject({ id: human, prompt: null });
    expect(forFree.body.data!.meme.title.length).toBeGreaterThan(0);
    expect(forFree.body.errors).toEqual([
      expect.objectContaining({
        path: ['meme', 'prompt'],
        extensions: expect.objectContaining({ code: 'UNAUTHORIZED_FIELD_OR_TYPE' }),
      }),
    ]);

    // Entirely premium operations never reach a subgraph for other viewers.
    const before = stack.subgraphRequests();
    const denied = await free.client(`query($id: ID!) { generation(id: $id) { id } }`, { id: '1' });
    expect(denied.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    expect(denied.body.data).toEqual({ generation: null });
    expect(stack.subgraphRequests()).toEqual(before);
  });
});

describe('entitlement changes reach every router within one second', () => {
  it('upgrade on router A unlocks AI content on router B; downgrade locks it again', async () => {
    const account = await signUp(stack.routerUrl, 'upgrader');
    const onA = account.client;
    const onB = routerClient(routerB, { authorization: `Bearer ${account.token}` });
    const PROBE = `query($id: ID!) { me { tier } meme(id: $id) { id } }`;

    // Router B caches the free viewer first.
    const first = await onB<{ me: { tier: string }; meme: null }>(PROBE, { id: aiMemeId });
    expect(first.body.data).toEqual({ me: { tier: 'FREE' }, meme: null });

    await subscribeTo(onA, 'PREMIUM');
    const upgradeMs = await eventually(async () => {
      const r = await onB<{ meme: { id: string } | null }>(PROBE, { id: aiMemeId });
      return r.body.data?.meme?.id === aiMemeId;
    });
    expect(upgradeMs).toBeLessThan(1000);

    await onA(`mutation { cancelSubscription { status } }`);
    const downgradeMs = await eventually(async () => {
      const r = await onB<{ meme: unknown }>(PROBE, { id: aiMemeId });
      return r.body.data?.meme === null;
    });
    expect(downgradeMs).toBeLessThan(1000);
  });

  it('a key revoked on router A is refused by router B within one second', async () => {
    const account = await signUp(stack.routerUrl, 'key_revoker', 'PREMIUM');
    const created = await account.client<{ createApiKey: { secret: string; apiKey: { id: string } } }>(
      `mutation { createApiKey(name: "b") { secret apiKey { id } } }`,
    );
    const { secret, apiKey } = created.body.data!.createApiKey;
    const withKeyOnB = routerClient(routerB, { 'x-api-key': secret });
    expect((await withKeyOnB(`{ me { tier } }`)).status).toBe(200);
    await account.client(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: apiKey.id });
    const ms = await eventually(async () => (await withKeyOnB(`{ me { tier } }`)).status === 401);
    expect(ms).toBeLessThan(1000);
  });
});

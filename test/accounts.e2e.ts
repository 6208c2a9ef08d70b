import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { routerClient } from './support/client';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 50 });
});
afterAll(() => stack?.close());

const SIGN_UP = `mutation($handle: String!, $password: String!) { signUp(handle: $handle, password: $password) { token expiresAt user { id handle tier } } }`;

async function signUp(handle: string, password = 'correct horse battery') {
  const response = await routerClient(stack.routerUrl)<{
    signUp: { token: string; user: { id: string; handle: string; tier: string } };
  }>(SIGN_UP, { handle, password });
  expect(response.body.errors).toBeUndefined();
  return response.body.data!.signUp;
}

describe('accounts, API keys and memes across subgraphs', () => {
  it('sign up → API key → create meme → vote: score and author handle resolve in one query', async () => {
    const account = await signUp('pepe_fan');
    expect(account.user.tier).toBe('FREE');
    const withToken = routerClient(stack.routerUrl, { authorization: `Bearer ${account.token}` });

    const created = await withToken<{ createApiKey: { secret: string; apiKey: { id: string; prefix: string } } }>(
      `mutation { createApiKey(name: "laptop") { secret apiKey { id prefix name } } }`,
    );
    const { secret, apiKey } = created.body.data!.createApiKey;
    expect(secret.startsWith(apiKey.prefix)).toBe(true);
    expect(secret.length).toBeGreaterThan(apiKey.prefix.length + 16);

    // Only a hash is stored; the listing shows the prefix alone.
    const rows = await stack.dbs.users.query<{ key_hash: string; prefix: string }>(
      'SELECT key_hash, prefix FROM api_keys',
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.key_hash).not.toContain(secret);
    expect(rows[0]!.key_hash).toMatch(/^[0-9a-f]{64}$/);
    const listing = await withToken<{ me: { apiKeys: Record<string, unknown>[] } }>(
      `{ me { apiKeys { id name prefix } } }`,
    );
    expect(JSON.stringify(listing.body.data)).not.toContain(secret);

    const withKey = routerClient(stack.routerUrl, { 'x-api-key': secret });
    const templates = await withKey<{ templates: { id: string }[] }>(`{ templates { id } }`);
    const templateId = templates.body.data!.templates[0]!.id;
    const meme = await withKey<{ createMeme: { id: string; score: number; origin: string } }>(
      `mutation($input: CreateMemeInput!) { createMeme(input: $input) { id score origin } }`,
      {
        input: {
          title: 'Monday mood',
          topText: 'me at 9am',
          bottomText: 'me at 9:01am',
          templateId,
          tags: ['Mondays'],
        },
      },
    );
    expect(meme.body.errors).toBeUndefined();
    const memeId = meme.body.data!.createMeme.id;
    expect(meme.body.data!.createMeme).toMatchObject({ score: 0, origin: 'HUMAN' });

    const voter = await signUp('doge_lover');
    const voterClient = routerClient(stack.routerUrl, { authorization: `Bearer ${voter.token}` });
    const VOTE = `mutation($id: ID!, $value: Int!) { vote(memeId: $id, value: $value) { id score viewerVote } }`;
    expect((await voterClient<{ vote: { score: number } }>(VOTE, { id: memeId, value: 1 })).body.data!.vote.score).toBe(
      1,
    );
    expect((await withKey<{ vote: { score: number } }>(VOTE, { id: memeId, value: 1 })).body.data!.vote.score).toBe(2);
    // Voting again changes the vote rather than adding one.
    expect(
      (await voterClient<{ vote: { score: number; viewerVote: number } }>(VOTE, { id: memeId, value: -1 })).body.data!
        .vote,
    ).toMatchObject({
      score: 0,
      viewerVote: -1,
    });

    const view = await routerClient(stack.routerUrl)<{
      meme: { score: number; tags: string[]; author: { handle: string; memes: { edges: { node: { id: string } }[] } } };
    }>(`query($id: ID!) { meme(id: $id) { score tags author { handle memes(first: 5) { edges { node { id } } } } } }`, {
      id: memeId,
    });
    expect(view.body.errors).toBeUndefined();
    expect(view.body.data!.meme).toMatchObject({ score: 0, tags: ['mondays'], author: { handle: 'pepe_fan' } });
    expect(view.body.data!.meme.author.memes.edges.map((e) => e.node.id)).toEqual([memeId]);
  });

  it('logs in with a password and the JWT works the same way', async () => {
    await signUp('grumpy_cat', 'no fun allowed 42');
    const client = routerClient(stack.routerUrl);
    const wrong = await client(`mutation { logIn(handle: "grumpy_cat", password: "wrong password") { token } }`);
    expect(wrong.status).toBe(401);
    expect(wrong.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    const login = await client<{ logIn: { token: string; user: { handle: string } } }>(
      `mutation { logIn(handle: "Grumpy_Cat", password: "no fun allowed 42") { token user { handle } } }`,
    );
    expect(login.body.data!.logIn.user.handle).toBe('grumpy_cat');
    const me = await routerClient(stack.routerUrl, { authorization: `Bearer ${login.body.data!.logIn.token}` })<{
      me: { handle: string; tier: string };
    }>(`{ me { handle tier } }`);
    expect(me.body.data!.me).toEqual({ handle: 'grumpy_cat', tier: 'FREE' });
  });

  it('refuses a taken handle and a weak password with BAD_USER_INPUT', async () => {
    await signUp('unique_one');
    const client = routerClient(stack.routerUrl);
    const taken = await client(SIGN_UP, { handle: 'UNIQUE_ONE', password: 'long enough pass' });
    expect(taken.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const weak = await client(SIGN_UP, { handle: 'another_one', password: 'short' });
    expect(weak.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const stored = await stack.dbs.users.query<{ password_hash: string }>(
      `SELECT password_hash FROM users WHERE handle = 'unique_one'`,
    );
    expect(stored[0]!.password_hash).toMatch(/^scrypt\$/);
    expect(stored[0]!.password_hash).not.toContain('correct horse');
  });

  it('subscribes to premium and cancels, and the tier follows', async () => {
    const account = await signUp('premium_pal');
    const client = routerClient(stack.routerUrl, { authorization: `Bearer ${account.token}` });
    const sub = await client<{ subscribe: { plan: string; status: string; subscription: { status: string } } }>(
      `mutation { subscribe(plan: PREMIUM) { plan status subscription { status } } }`,
    );
    // The built-in provider is paid at once: the checkout comes back completed, its plan active.
    expect(sub.body.data!.subscribe).toEqual({
      plan: 'PREMIUM',
      status: 'COMPLETED',
      subscription: { status: 'ACTIVE' },
    });
    expect((await client<{ me: { tier: string } }>(`{ me { tier } }`)).body.data!.me.tier).toBe('PREMIUM');
    const cancel = await client<{ cancelSubscription: { status: string } }>(
      `mutation { cancelSubscription { status } }`,
    );
    expect(cancel.body.data!.cancelSubscription.status).toBe('CANCELED');
    expect((await client<{ me: { tier: string } }>(`{ me { tier } }`)).body.data!.me.tier).toBe('FREE');
  });

  it('keeps API keys and subscriptions private to their owner', async () => {
    const a = await signUp('private_a');
    const b = await signUp('private_b');
    const asB = routerClient(stack.routerUrl, { authorization: `Bearer ${b.token}` });
    const peek = await asB<{ user: { handle: string; apiKeys: unknown } | null }>(
      `query($id: ID!) { user(id: $id) { handle apiKeys { id } } }`,
      { id: a.user.id },
    );
    expect(peek.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(peek.body.data?.user ?? null).toBeNull();
  });

  it('a user holds at most 20 API keys at once, and apiKeys lists those not revoked', async () => {
    const account = await signUp('key_hoarder');
    const client = routerClient(stack.routerUrl, { authorization: `Bearer ${account.token}` });
    const CREATE = `mutation { createApiKey(name: "more") { apiKey { id } } }`;
    // 19 keys held already, one of them revoked, written as createApiKey writes them.
    await stack.dbs.users.query(
      `INSERT INTO api_keys (user_id, name, prefix, key_hash, revoked_at)
       SELECT $1::bigint, 'old ' || n, 'mg_old' || n, md5($1::text || ':' || n), CASE WHEN n = 1 THEN now() END
       FROM generate_series(1, 20) AS n`,
      [account.user.id],
    );
    const held = async () =>
      (
        await stack.dbs.users.query<{ count: number }>(
          'SELECT count(*)::int AS count FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL',
          [account.user.id],
        )
      )[0]!.count;
    expect(await held()).toBe(19);

    // Two creates at once with room for one: exactly one is made.
    const both = await Promise.all([client(CREATE), client(CREATE)]);
    const codes = both.map((r) => r.body.errors?.[0]?.extensions?.code ?? 'OK').sort();
    expect(codes).toEqual(['BAD_USER_INPUT', 'OK']);
    expect(both.find((r) => r.body.errors)!.body.errors![0]!.message).toMatch(/at most 20 API keys/);
    expect(await held()).toBe(20);

    const listing = await client<{ me: { apiKeys: { id: string; revokedAt: string | null }[] } }>(
      `{ me { apiKeys { id revokedAt } } }`,
    );
    const keys = listing.body.data!.me.apiKeys;
    expect(keys).toHaveLength(20);
    expect(keys.every((k) => k.revokedAt === null)).toBe(true);
    expect(keys.map((k) => Number(k.id))).toEqual(keys.map((k) => Number(k.id)).sort((a, b) => b - a));

    // Revoking one makes room for one more.
    await client(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: keys[0]!.id });
    expect((await client(CREATE)).body.errors).toBeUndefined();
    expect((await client(CREATE)).body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await held()).toBe(20);
  });
});

describe('credentials that are sent but bad', () => {
  it('a revoked API key gets 401 UNAUTHENTICATED at once', async () => {
    const account = await signUp('revoker');
    const client = routerClient(stack.routerUrl, { authorization: `Bearer ${account.token}` });
    const created = await client<{ createApiKey: { secret: string; apiKey: { id: string } } }>(
      `mutation { createApiKey(name: "ci") { secret apiKey { id } } }`,
    );
    const { secret, apiKey } = created.body.data!.createApiKey;
    const withKey = routerClient(stack.routerUrl, { 'x-api-key': secret });
    expect((await withKey(`{ me { handle } }`)).status).toBe(200);

    const revoked = await client<{ revokeApiKey: { revokedAt: string | null } }>(
      `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`,
      { id: apiKey.id },
    );
    expect(revoked.body.data!.revokeApiKey.revokedAt).not.toBeNull();
    const after = await withKey(`{ me { handle } }`);
    expect(after.status).toBe(401);
    expect(after.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(after.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('an unknown API key, a garbage JWT, an alg:none JWT and a JWT signed with another secret get 401', async () => {
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"1"}').toString('base64url')}.`;
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('1')
      .setIssuer('memegraph')
      .setAudience('memegraph-api')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    const cases: Record<string, string>[] = [
      { 'x-api-key': 'mg_thisKeyDoesNotExistAnywhere000000' },
      { authorization: 'Bearer garbage' },
      { authorization: 'Bearer a.b.c' },
      { authorization: `Bearer ${none}` },
      { authorization: `Bearer ${forged}` },
    ];
    for (const headers of cases) {
      const response = await routerClient(stack.routerUrl, headers)(`{ trending(first: 1) { id } }`);
      expect(response.status, JSON.stringify(headers)).toBe(401);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(response.body.data).toBeUndefined();
    }
  });

  it('mutations that need a user are refused for anonymous viewers before any subgraph call', async () => {
    const before = stack.subgraphRequests();
    const response = await routerClient(stack.routerUrl)(`mutation { createApiKey(name: "x") { secret } }`);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    expect(response.body.errors?.[0]?.path).toEqual(['createApiKey']);
    expect(response.status).toBe(403);
    expect(stack.subgraphRequests()).toEqual(before);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import {
  DEFAULT_TIERS,
  VIEWER_HEADER,
  secretKey,
  serviceViewer,
  signViewer,
  type Viewer,
} from '@memegraph/service-kit';
import { gql, routerClient } from './support/client';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 30 });
});
afterAll(() => stack?.close());

const userViewer = (userId: string, tier: 'free' | 'premium' = 'free'): Viewer => ({
  kind: 'user',
  userId,
  tier,
  scopes: DEFAULT_TIERS[tier].scopes,
});

const signed = async (viewer: Viewer) => ({
  [VIEWER_HEADER]: await signViewer(viewer, secretKey(stack.secrets.signing)),
});

describe('subgraphs refuse calls that did not come through the router', () => {
  const names = ['users', 'memes', 'ai'] as const;

  it.each(names)('%s: no viewer header → 401', async (name) => {
    const response = await gql(stack.subgraphUrls[name], '{ _service { sdl } }');
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it.each(names)('%s: a header signed with another secret → 401', async (name) => {
    const forged = await signViewer(userViewer('1', 'premium'), secretKey('not-the-router-secret-but-long-enough!!'));
    const response = await gql(stack.subgraphUrls[name], '{ _service { sdl } }', {}, { [VIEWER_HEADER]: forged });
    expect(response.status).toBe(401);
  });

  it.each(names)('%s: an expired header → 401', async (name) => {
    const expired = await new SignJWT({ v: userViewer('1', 'premium') })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('memegraph-router')
      .setAudience('memegraph-subgraph')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(secretKey(stack.secrets.signing));
    const response = await gql(stack.subgraphUrls[name], '{ _service { sdl } }', {}, { [VIEWER_HEADER]: expired });
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.message).toContain('expired');
  });

  it.each(names)('%s: a valid router signature is served', async (name) => {
    const response = await gql<{ _service: { sdl: string } }>(
      stack.subgraphUrls[name],
      '{ _service { sdl } }',
      {},
      await signed(serviceViewer('router')),
    );
    expect(response.status).toBe(200);
    expect(response.body.data!._service.sdl).toContain('@key');
  });

  it('a client cannot pass its own viewer header through the router', async () => {
    const spoofed = await signViewer(userViewer('1', 'premium'), secretKey('guessed-secret-guessed-secret-guessed'));
    const response = await routerClient(stack.routerUrl, { [VIEWER_HEADER]: spoofed })<{ me: unknown }>(
      `{ me { id } }`,
    );
    expect(response.status).toBe(200);
    expect(response.body.data!.me).toBeNull();
  });

  it('internal endpoints refuse end users even with a valid signature', async () => {
    const response = await fetch(new URL('/internal/viewer', stack.subgraphUrls.users), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await signed(userViewer('1'))) },
      body: JSON.stringify({ userId: '1' }),
    });
    expect(response.status).toBe(403);
  });
});

describe('_entities, as the router calls it', () => {
  const ENTITIES = `query($representations: [_Any!]!) { _entities(representations: $representations) { __typename ... on User { id handle tier } ... on Generation { id status prompt } } }`;

  it('users: User representations resolve in order, misses are null', async () => {
    const response = await gql<{ _entities: ({ id: string; handle: string; tier: string } | null)[] }>(
      stack.subgraphUrls.users,
      ENTITIES.replace('... on Generation { id status prompt }', ''),
      {
        representations: [
          { __typename: 'User', id: '3' },
          { __typename: 'User', id: '999999' },
          { __typename: 'User', id: '1' },
        ],
      },
      await signed(serviceViewer('router')),
    );
    expect(response.body.errors).toBeUndefined();
    const [three, missing, one] = response.body.data!._entities;
    expect(three).toMatchObject({ id: '3', tier: 'FREE' });
    expect(missing).toBeNull();
    expect(one).toMatchObject({ id: '1' });
    // Seeded user 5 pays for Memes AI.
    const five = await gql<{ _entities: { tier: string }[] }>(
      stack.subgraphUrls.users,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on User { tier } } }`,
      { r: [{ __typename: 'User', id: '5' }] },
      await signed(serviceViewer('router')),
    );
    expect(five.body.data!._entities[0]!.tier).toBe('PREMIUM');
  });

  it('ai: Generation representations resolve for their owner only', async () => {
    const row = await stack.dbs.ai.query<{ id: string }>(
      `INSERT INTO generations (user_id, prompt, status, provider) VALUES (5, 'owned by five', 'QUEUED', 'local') RETURNING id`,
    );
    const id = row[0]!.id;
    const query = `query($r: [_Any!]!) { _entities(representations: $r) { ... on Generation { id status prompt } } }`;
    const owner = await gql<{ _entities: ({ prompt: string } | null)[] }>(
      stack.subgraphUrls.ai,
      query,
      { r: [{ __typename: 'Generation', id }] },
      await signed(userViewer('5', 'premium')),
    );
    expect(owner.body.data!._entities[0]).toMatchObject({ id, status: 'QUEUED', prompt: 'owned by five' });
    const other = await gql<{ _entities: ({ prompt: string } | null)[] }>(
      stack.subgraphUrls.ai,
      query,
      { r: [{ __typename: 'Generation', id }] },
      await signed(userViewer('6', 'premium')),
    );
    expect(other.body.data!._entities[0]).toBeNull();
  });
});

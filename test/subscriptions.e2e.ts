/**
 * Live generation progress: a generation accepted through router A is
 * followed on router B over Server-Sent Events (graphql-sse, distinct
 * connections) and over WebSocket (graphql-ws). The worker announces each
 * change on Redis; router B reads the generation through the supergraph as
 * the subscriber, so the finished meme's author comes from the users
 * subgraph as in a query.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { readFileSync } from 'node:fs';
import { GENERATION_UPDATED, createGalleryClient, type PersistedQueryManifest } from '@memegraph/gallery';
import { createLogger } from '@memegraph/service-kit';
import { createRouter, loadRouterConfig } from '@memegraph/router';
import { routerClient } from './support/client';
import { GALLERY_MANIFEST_PATH } from './support/gallery';
import { freePorts } from './support/redis';
import { startStack, type Stack } from './support/stack';

let stack: Stack;
let routerA: string;
let routerB: string;

beforeAll(async () => {
  // No worker yet: accepted generations wait in the queue until a test starts one.
  stack = await startStack({
    users: 5,
    memes: 20,
    ai: { queue: 'bullmq', worker: 'none' },
    routerEnv: { TIERS_JSON: JSON.stringify({ premium: { maxSubscriptions: 2 } }) },
  });
  routerA = stack.routerUrl;
  routerB = await stack.addRouter();
}, 60_000);
afterAll(() => stack?.close());

async function account(handle: string, plan?: 'PREMIUM') {
  const response = await routerClient(routerA)<{ signUp: { token: string; user: { id: string } } }>(
    `mutation($h: String!) { signUp(handle: $h, password: "such password very safe") { token user { id } } }`,
    { h: handle },
  );
  const token = response.body.data!.signUp.token;
  const client = routerClient(routerA, { authorization: `Bearer ${token}` });
  if (plan) await client(`mutation { subscribe(plan: ${plan}) { status } }`);
  return { token, client };
}

const FOLLOW = `subscription Follow($id: ID!) {
  generationUpdated(id: $id) {
    id status queuePosition
    meme { title imageUrl author { handle } template { name } }
  }
}`;

interface Update {
  id: string;
  status: string;
  queuePosition: number | null;
  meme: { title: string; imageUrl: string; author: { handle: string }; template: { name: string } } | null;
}
type Event = {
  data?: { generationUpdated?: Update } | null;
  errors?: { message: string; extensions?: { code?: string } }[];
};

const sse = (token: string, router = routerB) =>
  createSseClient({ url: `${router}/graphql/stream`, headers: { authorization: `Bearer ${token}` }, retryAttempts: 0 });

const ws = (token: string, router = routerB) =>
  createWsClient({
    url: `${router.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });

/** A generation of the viewer's own: a subscription to it opens with the generation as it is now. */
async function generationOf(client: Awaited<ReturnType<typeof account>>['client']) {
  const started = await client<{ generateMeme: { id: string } }>(
    `mutation { generateMeme(input: { prompt: "counted like any request" }) { id } }`,
  );
  return started.body.data!.generateMeme.id;
}

/** A subscription's first event over SSE, or its refusal (the stream's one result), and the stream closed. */
async function firstOverSse(token: string, router: string, id: string) {
  const stream = sse(token, router).iterate({ query: FOLLOW, variables: { id } });
  const first = (await stream.next()).value as Event;
  await stream.return?.();
  return first;
}

/** A subscription's first event over WebSocket, or its refusal (an `error` message) as the errors. */
function firstOverWs(client: ReturnType<typeof ws>, id: string) {
  return new Promise<Event>((resolve, reject) => {
    const stop = client.subscribe(
      { query: FOLLOW, variables: { id } },
      {
        next: (event) => {
          stop();
          resolve(event as Event);
        },
        error: (errors) => resolve({ errors: errors as Event['errors'] }),
        complete: () => reject(new Error('completed without an event')),
      },
    );
  });
}

/** Reads a stream's events in the background, for looking at later. */
function collect(events: AsyncIterableIterator<unknown>) {
  const seen: Event[] = [];
  const done = (async () => {
    for await (const event of events) seen.push(event as Event);
  })();
  return { seen, done };
}

const RANK: Record<string, number> = { QUEUED: 1, RUNNING: 2, SUCCEEDED: 3, FAILED: 3 };

describe('subscriptions through the router', () => {
  it('follows a generation accepted on router A on router B, over SSE and WebSocket, in order, to the finished meme', async () => {
    const owner = await account('live_owner', 'PREMIUM');
    const intruder = await account('live_intruder', 'PREMIUM');
    const started = await owner.client<{ generateMeme: { id: string; status: string } }>(
      `mutation { generateMeme(input: { prompt: "watching the progress bar like a hawk" }) { id status } }`,
    );
    expect(started.body.errors).toBeUndefined();
    const id = started.body.data!.generateMeme.id;
    expect(started.body.data!.generateMeme.status).toBe('QUEUED');

    const overSse = sse(owner.token).iterate({ query: FOLLOW, variables: { id } });
    const wsClient = ws(owner.token);
    const overWs = wsClient.iterate({ query: FOLLOW, variables: { id } });
    // Another viewer asking for the owner's generation, by id and for all of theirs: nothing, ever.
    const intruderStream = sse(intruder.token).iterate({ query: FOLLOW, variables: { id } });
    const intruderById = collect(intruderStream);
    const intruderWsClient = ws(intruder.token);
    const intruderAll = collect(intruderWsClient.iterate({ query: 'subscription { myGenerations { id status } }' }));

    // The first event is the generation as it is now: waiting, first in line.
    const firstSse = (await overSse.next()).value as Event;
    const firstWs = (await overWs.next()).value as Event;
    for (const first of [firstSse, firstWs]) {
      expect(first.errors).toBeUndefined();
      expect(first.data!.generationUpdated).toMatchObject({ id, status: 'QUEUED', queuePosition: 1, meme: null });
    }

    const sseRest = collect(overSse);
    const wsRest = collect(overWs);
    stack.startAiWorker();
    // generationUpdated ends once the generation is finished.
    await Promise.all([sseRest.done, wsRest.done]);

    for (const rest of [sseRest.seen, wsRest.seen]) {
      const updates = [firstSse, ...rest].map((e) => {
        expect(e.errors).toBeUndefined();
        return e.data!.generationUpdated!;
      });
      const ranks = updates.map((u) => RANK[u.status]!);
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
      expect(new Set(updates.map((u) => JSON.stringify(u))).size).toBe(updates.length);
      const last = updates.at(-1)!;
      expect(last.status).toBe('SUCCEEDED');
      expect(last.queuePosition).toBeNull();
      // The meme with its author from the users subgraph and its template from the memes subgraph.
      expect(last.meme).toMatchObject({ author: { handle: 'live_owner' } });
      expect(last.meme!.template.name.length).toBeGreaterThan(0);
      expect(last.meme!.imageUrl).toMatch(/^http/);
    }

    expect(intruderById.seen).toEqual([]);
    expect(intruderAll.seen).toEqual([]);
    // Router B delivered the owner's events only: SSE and WebSocket, nothing to the intruder.
    const metrics = await (await fetch(`${routerB}/metrics`)).text();
    const delivered = (transport: string) =>
      Number(
        new RegExp(`^subscription_events_total\\{[^}]*transport="${transport}"[^}]*\\} (\\d+)`, 'm').exec(
          metrics,
        )?.[1] ?? 0,
      );
    expect(delivered('sse')).toBe(1 + sseRest.seen.length);
    expect(delivered('ws')).toBe(1 + wsRest.seen.length);
    await intruderStream.return?.();
    await wsClient.dispose();
    await intruderWsClient.dispose();
  });

  it("Apollo Client (the gallery's client, its SSE link) follows a generation to its meme", async () => {
    const owner = await account('live_apollo', 'PREMIUM');
    const started = await owner.client<{ generateMeme: { id: string } }>(
      `mutation { generateMeme(input: { prompt: "apollo client on the stream" }) { id } }`,
    );
    const id = started.body.data!.generateMeme.id;
    const client = createGalleryClient({ uri: `${routerB}/graphql`, mode: 'apq', token: owner.token });
    const statuses: string[] = [];
    let following: { unsubscribe(): void } | undefined;
    const last = await new Promise<{ status: string; meme: { author: { handle: string } } | null }>(
      (resolve, reject) => {
        let latest: { status: string; meme: { author: { handle: string } } | null } | undefined;
        following = client.subscribe({ query: GENERATION_UPDATED, variables: { id } }).subscribe({
          next: (result) => {
            if (result.error) return reject(result.error);
            latest = result.data!.generationUpdated;
            statuses.push(latest.status);
          },
          error: reject,
          complete: () => (latest ? resolve(latest) : reject(new Error('no event'))),
        });
      },
    );
    expect(statuses.map((status) => RANK[status])).toEqual([...statuses.map((status) => RANK[status])].sort());
    expect(last.status).toBe('SUCCEEDED');
    expect(last.meme?.author.handle).toBe('live_apollo');
    following?.unsubscribe();
    client.stop();

    // The generation is finished now: a stream opened on it says so in its one event and ends, however the
    // status is selected (here aliased, in a named fragment inside an inline one), as the gallery's fragment does.
    const finished = collect(
      sse(owner.token).iterate({
        query: `subscription($id: ID!) {
          followed: generationUpdated(id: $id) { ... on Generation { ...Progress } }
        }
        fragment Progress on Generation { id state: status }`,
        variables: { id },
      }),
    );
    await finished.done;
    expect(finished.seen).toEqual([{ data: { followed: { id, state: 'SUCCEEDED' } } }]);
  });

  it("refuses a free viewer's subscription with UNAUTHORIZED_FIELD_OR_TYPE on both transports", async () => {
    const free = await account('live_free');
    const overSse = await sse(free.token)
      .iterate({ query: FOLLOW, variables: { id: '1' } })
      .next();
    expect((overSse.value as Event).errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');

    const client = ws(free.token);
    const refused = await new Promise<{ extensions?: { code?: string } }[]>((resolve, reject) =>
      client.subscribe(
        { query: FOLLOW, variables: { id: '1' } },
        {
          next: () => reject(new Error('an event for a free viewer')),
          error: (e) => resolve(e as never),
          complete: () => reject(new Error('completed')),
        },
      ),
    );
    expect(refused[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    await client.dispose();
  });

  it('a subscription sent as a request to /graphql gets a coded 400 naming the streams', async () => {
    const premium = await account('live_post', 'PREMIUM');
    const response = await premium.client('subscription { myGenerations { id } }');
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(response.body.errors?.[0]?.message).toContain('/graphql/stream');
  });

  it("holds a viewer to the tier's maxSubscriptions on every router together", async () => {
    const premium = await account('live_many', 'PREMIUM');
    const query = 'subscription { myGenerations { id status } }';
    const streams = async (router: string) => {
      const text = await (await fetch(`${router}/metrics`)).text();
      return [...text.matchAll(/^subscription_streams\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    // Streams other tests left open on these routers are not this viewer's: counted from where they stand now.
    const base = { a: await streams(routerA), b: await streams(routerB) };
    const slow = { timeout: 15_000, interval: 50 };
    const onA = sse(premium.token, routerA).iterate({ query });
    const onB = ws(premium.token, routerB);
    const first = collect(onA);
    const second = collect(onB.iterate({ query }));
    await vi.waitFor(async () => {
      expect(await streams(routerA)).toBe(base.a + 1);
      expect(await streams(routerB)).toBe(base.b + 1);
    }, slow);
    const third = await sse(premium.token, routerB).iterate({ query }).next();
    expect((third.value as Event).errors?.[0]?.extensions?.code).toBe('RATE_LIMIT_EXCEEDED');
    expect((third.value as Event).errors?.[0]?.message).toContain('At most 2 subscriptions');
    expect(first.seen).toEqual([]);
    expect(second.seen).toEqual([]);
    // One closes: its place is free again.
    await onA.return?.();
    await vi.waitFor(async () => expect(await streams(routerA)).toBe(base.a), slow);
    const again = sse(premium.token, routerA).iterate({ query });
    const opened = collect(again);
    await vi.waitFor(async () => expect(await streams(routerA)).toBe(base.a + 1), slow);
    expect(opened.seen).toEqual([]);
    await again.return?.();
    await onB.dispose();
  });

  it('holds a subscriber to trusted documents and to the request window, as a request is', async () => {
    const premium = await account('live_trusted', 'PREMIUM');
    const manifest = JSON.parse(readFileSync(GALLERY_MANIFEST_PATH, 'utf8')) as PersistedQueryManifest;
    const listed = manifest.operations.find((operation) => operation.name === 'GenerationUpdated')!;
    const router = await stack.addRouter({
      TRUSTED_DOCUMENTS_MANIFEST: GALLERY_MANIFEST_PATH,
      TRUSTED_DOCUMENTS_MODE_BY_TIER: JSON.stringify({ premium: 'enforce' }),
      // signUp is anonymous; the plan bought on router A counts one in this viewer's window.
      TIERS_JSON: JSON.stringify({ premium: { requestsPerMinute: 3, maxSubscriptions: 10 } }),
    });
    const post = (body: unknown) =>
      fetch(`${router}/graphql/stream`, {
        method: 'POST',
        headers: {
          accept: 'text/event-stream',
          'content-type': 'application/json',
          authorization: `Bearer ${premium.token}`,
        },
        body: JSON.stringify(body),
      });
    const firstEvent = async (response: Response) => {
      const reader = response.body!.getReader();
      let text = '';
      while (!/\nevent: next\ndata: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      return JSON.parse(/\nevent: next\ndata: (.*)\n\n/.exec(text)![1]!) as Event;
    };
    // Text is refused where the viewer is held to the manifest…
    const text = await firstEvent(await post({ query: FOLLOW, variables: { id: '1' } }));
    expect(text.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
    // …a manifest id is served (the generation is not theirs: nothing yet, the stream is open).
    const byId = await post({
      variables: { id: '1' },
      extensions: { persistedQuery: { version: 1, sha256Hash: listed.id } },
    });
    expect(byId.status).toBe(200);
    await byId.body!.cancel();
    // The fourth request of the minute is over the window of 3.
    const over = await firstEvent(await post({ query: FOLLOW, variables: { id: '1' } }));
    expect(over.errors?.[0]?.extensions?.code).toBe('RATE_LIMIT_EXCEEDED');
  });

  it("refuses a subscription once the viewer's daily quota is spent, over SSE and WebSocket, as a request", async () => {
    const premium = await account('live_quota', 'PREMIUM');
    const id = await generationOf(premium.client);
    const router = await stack.addRouter({
      // A prefix of its own: the requests on router A above are not counted in this quota.
      REDIS_PREFIX: `${stack.routerEnv.REDIS_PREFIX}subscription-quota:`,
      TIERS_JSON: JSON.stringify({ premium: { dailyRequestQuota: 2, maxSubscriptions: 10 } }),
    });
    const client = routerClient(router, { authorization: `Bearer ${premium.token}` });
    for (let i = 0; i < 2; i++) expect((await client('{ me { id } }')).status).toBe(200);
    const request = await client('{ me { id } }');
    expect(request.status).toBe(429);
    expect(request.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', quota: 'daily' });

    const overSse = await firstOverSse(premium.token, router, id);
    expect(overSse.data).toBeNull();
    expect(overSse.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMIT_EXCEEDED', quota: 'daily' });
    expect(overSse.errors?.[0]?.message).toBe('The daily quota of 2 requests is spent');
    const wsClient = ws(premium.token, router);
    const overWs = await firstOverWs(wsClient, id);
    await wsClient.dispose();
    expect(overWs.data).toBeUndefined();
    expect(overWs.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMIT_EXCEEDED', quota: 'daily' });
  });

  describe('with Redis down, requests and subscription starts of a viewer count in one window of the router', () => {
    let router: string;
    beforeAll(async () => {
      // Nothing listens there: the router serves on its own state, as when Redis goes away.
      const [port] = await freePorts(1);
      router = await stack.addRouter({
        REDIS_URL: `redis://127.0.0.1:${port}`,
        TIERS_JSON: JSON.stringify({ premium: { requestsPerMinute: 3, maxSubscriptions: 10 } }),
      });
    });

    it('two requests and a subscription over SSE spend a window of 3: the next request is refused', async () => {
      const premium = await account('live_window_sse', 'PREMIUM');
      const id = await generationOf(premium.client);
      const client = routerClient(router, { authorization: `Bearer ${premium.token}` });
      for (let i = 0; i < 2; i++) expect((await client('{ me { id } }')).status).toBe(200);
      const opened = await firstOverSse(premium.token, router, id);
      expect(opened.errors).toBeUndefined();
      expect(opened.data?.generationUpdated?.id).toBe(id);
      const refused = await client('{ me { id } }');
      expect(refused.status).toBe(429);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMIT_EXCEEDED');
      expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    });

    it('a subscription over WebSocket and two requests spend a window of 3: the next subscription is refused', async () => {
      const premium = await account('live_window_ws', 'PREMIUM');
      const id = await generationOf(premium.client);
      const client = routerClient(router, { authorization: `Bearer ${premium.token}` });
      const wsClient = ws(premium.token, router);
      const opened = await firstOverWs(wsClient, id);
      expect(opened.errors).toBeUndefined();
      expect(opened.data?.generationUpdated?.id).toBe(id);
      for (let i = 0; i < 2; i++) expect((await client('{ me { id } }')).status).toBe(200);
      const refused = await firstOverWs(wsClient, id);
      await wsClient.dispose();
      expect(refused.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMIT_EXCEEDED' });
      expect(refused.errors?.[0]?.message).toBe('More than 3 requests a minute');
    });
  });

  it('holds a named client to its manifest over WebSocket as over SSE', async () => {
    const premium = await account('live_named', 'PREMIUM');
    const router = await stack.addRouter({
      TRUSTED_DOCUMENTS_MANIFEST: GALLERY_MANIFEST_PATH,
      TRUSTED_DOCUMENTS_MODE_BY_CLIENT: JSON.stringify({ 'memegraph-gallery': 'enforce' }),
    });
    class NamedClient extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: { 'apollographql-client-name': 'memegraph-gallery' } });
      }
    }
    const client = createWsClient({
      url: `${router.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: NamedClient,
      connectionParams: { authorization: `Bearer ${premium.token}` },
      retryAttempts: 0,
    });
    const refused = await new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: FOLLOW, variables: { id: '1' } },
        { next: () => undefined, error: resolve, complete: () => resolve(null) },
      );
    });
    await client.dispose();
    expect((refused as { extensions?: { code?: string } }[])[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });

  it('a draining router ends its streams telling clients to reconnect: SSE retry:, WebSocket 1012', async () => {
    const premium = await account('live_drain', 'PREMIUM');
    const router = await createRouter(loadRouterConfig(stack.routerEnv), createLogger('test', 'silent'));
    const url = await router.listen(0);
    const response = await fetch(`${url}/graphql/stream`, {
      method: 'POST',
      headers: {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        authorization: `Bearer ${premium.token}`,
      },
      body: JSON.stringify({ query: 'subscription { myGenerations { id } }' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const closed = new Promise<number>((resolve) => {
      const client = createWsClient({
        url: `${url.replace(/^http/, 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${premium.token}` },
        retryAttempts: 0,
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      client.subscribe(
        { query: 'subscription { myGenerations { id } }' },
        { next: () => {}, error: () => {}, complete: () => {} },
      );
    });
    const streams = async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return [...text.matchAll(/^subscription_streams\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    await vi.waitFor(async () => expect(await streams()).toBe(2));

    await router.close();
    const text = await response.text();
    expect(text.startsWith('retry: 2000\n\n')).toBe(true);
    expect(text).not.toContain('event: complete');
    expect(await closed).toBe(1012);
  });
});

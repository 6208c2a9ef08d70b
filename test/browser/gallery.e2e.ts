import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { GALLERY_CLIENT_NAME, type PersistedQueryManifest } from '@memegraph/gallery';
import type { Browser, Locator, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserPage, launchBrowser, openPage, poll } from '../support/browser';
import { gql } from '../support/client';
import { GALLERY_MANIFEST_PATH, buildGallery, galleryRouterEnv } from '../support/gallery';
import { startStack, type Stack } from '../support/stack';

/** One GraphQL request the page sent, as the router received it. */
interface SentOperation {
  method: string;
  clientName: string | undefined;
  operationName: string | undefined;
  hash: string | undefined;
  hasQueryText: boolean;
  variables: Record<string, unknown>;
}

async function readOperation(request: Request): Promise<SentOperation> {
  const url = new URL(request.url());
  const params =
    request.method() === 'GET'
      ? {
          query: url.searchParams.get('query') ?? undefined,
          operationName: url.searchParams.get('operationName') ?? undefined,
          extensions: JSON.parse(url.searchParams.get('extensions') ?? '{}') as unknown,
          variables: JSON.parse(url.searchParams.get('variables') ?? '{}') as unknown,
        }
      : (request.postDataJSON() as {
          query?: string;
          operationName?: string;
          extensions?: unknown;
          variables?: unknown;
        });
  const { persistedQuery } = (params.extensions ?? {}) as { persistedQuery?: { sha256Hash?: string } };
  const headers = await request.allHeaders();
  return {
    method: request.method(),
    clientName: headers['apollographql-client-name'],
    operationName: params.operationName,
    hash: persistedQuery?.sha256Hash,
    hasQueryText: typeof params.query === 'string',
    variables: (params.variables ?? {}) as Record<string, unknown>,
  };
}

/** The `meme-<id>-title` ids of the cards in a list, in order. */
async function memeIds(list: Locator): Promise<string[]> {
  const labels = await list
    .getByRole('article')
    .evaluateAll((cards) => cards.map((card) => card.getAttribute('aria-labelledby') ?? ''));
  return labels.map((label) => label.replace(/^meme-(.+)-title$/, '$1'));
}

/** Waits for what the page shows: first loads and router round trips take longer than vitest's 1 s default. */

const card = (list: Locator, id: string) => list.locator(`article[aria-labelledby="meme-${id}-title"]`);

/** Whether an image has arrived and decoded: an image that failed to load has no natural width. */
const imageLoaded = (image: Locator) =>
  image.evaluate((img) => {
    const { complete, naturalWidth } = img as unknown as { complete: boolean; naturalWidth: number };
    return complete && naturalWidth > 0;
  });

let gallery: Awaited<ReturnType<typeof buildGallery>>;
let stack: Stack;
let browser: Browser;
let session: BrowserPage;
let manifest: PersistedQueryManifest;
const operations: Promise<SentOperation>[] = [];
/** Subscription streams the page opened (graphql-sse, at /graphql/stream): their operation names. */
const streams: (string | undefined)[] = [];

beforeAll(async () => {
  gallery = await buildGallery();
  manifest = JSON.parse(await readFile(GALLERY_MANIFEST_PATH, 'utf8')) as PersistedQueryManifest;
  // The router serves the built gallery at `/` and holds the gallery's
  // traffic, and only the gallery's, to its manifest.
  // Generations wait in the queue until the generation test starts a worker, so their progress can be seen.
  stack = await startStack({
    users: 10,
    memes: 60,
    routerEnv: galleryRouterEnv(gallery.dir),
    ai: { queue: 'bullmq', worker: 'none' },
  });
  browser = await launchBrowser();
  session = await openPage(browser, 'gallery');
  session.page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/graphql') operations.push(readOperation(request));
    if (new URL(request.url()).pathname === '/graphql/stream')
      streams.push((request.postDataJSON() as { operationName?: string } | null)?.operationName);
  });
});

afterAll(async () => {
  await session?.close();
  await browser?.close();
  await stack?.close();
  await gallery?.remove();
});

describe('the gallery in Chromium, served by the router', () => {
  const handle = `gallery_${randomBytes(4).toString('hex')}`;
  const feed = () => session.page.getByRole('list', { name: 'Feed' });
  let voted: { id: string; score: number };
  const nav = (name: string) => session.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });

  it('shows a visitor the feed with rendered memes, and loads the next page on scrolling to its end', async () => {
    const { page } = session;
    await page.goto(`${stack.routerUrl}/`);
    await expect(page.title()).resolves.toBe('Memegraph gallery');
    await poll(() => feed().getByRole('article').count()).toBe(12);
    const first = feed().getByRole('article').first();
    await poll(() => imageLoaded(first.getByRole('img'))).toBe(true);
    expect(await first.getByRole('img').getAttribute('alt')).toMatch(/^Meme: /);
    await expect(feed().getByText('AI meme').count()).resolves.toBe(0);
    await session.screenshot('01-feed');

    // Scrolling brings the "Load more" sentinel into view: the observer asks for the page after the end cursor.
    const before = await memeIds(feed());
    await page.getByRole('button', { name: 'Load more memes' }).scrollIntoViewIfNeeded();
    await poll(() => feed().getByRole('article').count()).toBe(24);
    const after = await memeIds(feed());
    expect(after.slice(0, 12)).toEqual(before);
    expect(new Set(after).size).toBe(24);
    const feedRequests = (await Promise.all(operations)).filter((operation) => operation.operationName === 'Feed');
    expect(feedRequests.map((operation) => operation.variables.after ?? null)).toEqual([null, expect.any(String)]);
    await session.screenshot('02-feed-scrolled');
  });

  it('signs a new user up, and keeps the session across a reload', async () => {
    const { page } = session;
    await nav('Account').click();
    const form = page.getByRole('form', { name: 'Sign up' });
    await form.getByLabel('Handle').fill(handle);
    await form.getByLabel('Password').fill('a long gallery password');
    await session.screenshot('03-sign-up');
    await form.getByRole('button', { name: 'Sign up' }).click();

    const status = page.getByText(`Signed in as @${handle}`);
    await poll(() => status.textContent()).toBe(`Signed in as @${handle} · Free`);
    await poll(() => new URL(page.url()).hash).toBe('#/');
    await page.reload();
    await poll(() => status.isVisible()).toBe(true);
    await poll(() => feed().getByRole('article').count()).toBe(12);
    await session.screenshot('04-signed-in');
  });

  it('votes, and the new score shows on every list that holds the meme without asking the router again', async () => {
    const { page } = session;
    await nav('Trending').click();
    const trending = page.getByRole('list', { name: 'Trending memes' });
    await poll(() => trending.getByRole('article').count()).toBe(24);
    const trendingIds = new Set(await memeIds(trending));

    await nav('Feed').click();
    await poll(() => feed().getByRole('article').count()).toBe(12);
    const id = (await memeIds(feed())).find((candidate) => trendingIds.has(candidate));
    expect(id, 'a meme both in the feed and trending').toBeDefined();
    const inFeed = card(feed(), id!);
    const score = Number((await inFeed.getByText(/^Score: -?\d+$/).textContent())!.replace('Score: ', ''));

    await inFeed.getByRole('button', { name: 'Upvote' }).click();
    await poll(() => inFeed.getByText(/^Score:/).textContent()).toBe(`Score: ${score + 1}`);
    await expect(inFeed.getByRole('button', { name: 'Upvote' }).getAttribute('aria-pressed')).resolves.toBe('true');
    await session.screenshot('05-voted');

    const sentBefore = operations.length;
    await nav('Trending').click();
    await poll(() =>
      card(trending, id!)
        .getByText(/^Score:/)
        .textContent(),
    ).toBe(`Score: ${score + 1}`);
    expect(operations.length, 'trending came from the cache').toBe(sentBefore);
    const stored = await stack.dbs.memes.query<{ score: number }>('SELECT score FROM memes WHERE id = $1', [id]);
    expect(stored).toEqual([{ score: score + 1 }]);
    voted = { id: id!, score: score + 1 };
  });

  it('searches for the meme, opens its page with the viewer’s own vote, and browses one of its tags', async () => {
    const { page } = session;
    const title = (await card(page.getByRole('list', { name: 'Trending memes' }), voted.id)
      .getByRole('heading')
      .textContent())!;
    const search = page.getByRole('search');
    await search.getByLabel('Search memes').fill(title);
    await search.getByRole('button', { name: 'Search' }).click();
    const results = page.getByRole('list', { name: 'Search results' });
    await poll(async () => (await memeIds(results)).includes(voted.id)).toBe(true);
    await session.screenshot('06-search');

    await card(results, voted.id).getByRole('link', { name: title }).click();
    const detail = page.getByRole('article', { name: title });
    await poll(() => detail.getByText(/^Score:/).textContent()).toBe(`Score: ${voted.score}`);
    await expect(detail.getByRole('button', { name: 'Upvote' }).getAttribute('aria-pressed')).resolves.toBe('true');
    await poll(() => imageLoaded(detail.getByRole('img'))).toBe(true);
    const tagLink = detail.getByRole('listitem').getByRole('link').first();
    const tag = (await tagLink.textContent())!.replace(/^#/, '');
    await session.screenshot('07-meme-page');

    await tagLink.click();
    await poll(() => page.getByRole('heading', { level: 2 }).textContent()).toBe(`Memes tagged “${tag}”`);
    const tagged = page.getByRole('list', { name: `Memes tagged ${tag}` });
    await poll(async () => (await memeIds(tagged)).includes(voted.id)).toBe(true);
  });

  it('upgrades to Memes AI, and the feed comes back with AI memes in it', async () => {
    const { page } = session;
    await nav('Account').click();
    await page.getByRole('button', { name: 'Upgrade to Memes AI' }).click();
    await poll(() => page.getByText('Welcome to Memes AI: your feed now includes AI memes.').isVisible()).toBe(true);
    await poll(() => page.getByText(`Signed in as @${handle}`).textContent()).toBe(
      `Signed in as @${handle} · Memes AI (premium)`,
    );
    await session.screenshot('08-upgraded');

    await nav('Feed').click();
    await poll(() => feed().getByRole('article').count()).toBe(12);
    const aiCards = feed()
      .locator('article')
      .filter({ has: page.getByText('AI meme', { exact: true }) });
    await poll(() => aiCards.count()).toBeGreaterThan(0);
    // The newest seeded meme (60) is an AI meme: hidden before, first now.
    expect((await memeIds(feed()))[0]).toBe('60');
    await poll(() => imageLoaded(card(feed(), '60').getByRole('img'))).toBe(true);
    await session.screenshot('09-feed-with-ai-memes');
  });

  it('generates a meme, follows its progress live and shows its image without polling, then finds it first in the feed', async () => {
    const { page } = session;
    const prompt = `when the browser test passes ${randomBytes(3).toString('hex')}`;
    await nav('Generate').click();
    await page.getByLabel('Prompt').fill(prompt);
    await page.getByRole('button', { name: 'Generate meme' }).click();
    await poll(() => new URL(page.url()).hash).toMatch(/^#\/generate\/\d+$/);

    const progress = page.getByRole('region', { name: 'Your generation' });
    // Waiting for a worker: first in line, as the subscription's first event says.
    await poll(() => progress.getByRole('status').textContent()).toBe('Queued: number 1 in line.');
    stack.startAiWorker();
    await poll(() => progress.getByRole('status').textContent(), 30_000).toBe('Done: your meme is ready.');
    const image = progress.getByRole('img');
    expect((await image.getAttribute('alt'))?.startsWith(`Meme: ${prompt}`)).toBe(true);
    await poll(() => imageLoaded(image)).toBe(true);
    await expect(progress.getByText('AI meme', { exact: true }).count()).resolves.toBe(1);
    await session.screenshot('10-generated');

    // One read of where the generation stood, then the subscription's stream: no polling.
    const reads = (await Promise.all(operations)).filter((operation) => operation.operationName === 'Generation');
    expect(reads.map((operation) => operation.variables.waitSeconds)).toEqual([0]);
    expect(streams).toEqual(['GenerationUpdated']);

    await nav('Feed').click();
    await poll(async () =>
      (await feed().getByRole('article').first().getByRole('img').getAttribute('alt'))?.startsWith(`Meme: ${prompt}`),
    ).toBe(true);
    await session.screenshot('11-feed-with-generated-meme');
  });

  it('logs out: the session is gone, and the feed is a visitor’s again, without AI memes', async () => {
    const { page } = session;
    await page.getByRole('button', { name: 'Log out' }).click();
    await poll(() => page.getByRole('link', { name: 'Sign up or log in' }).isVisible()).toBe(true);
    await expect(page.evaluate('JSON.stringify(window.localStorage)')).resolves.toBe('{}');
    await poll(async () => (await memeIds(feed())).length).toBe(12);
    expect(await memeIds(feed())).not.toContain('60');
    await expect(feed().getByText('AI meme', { exact: true }).count()).resolves.toBe(0);
    await session.screenshot('12-logged-out');
  });

  it('logs in: a wrong password shows the router’s error code, the right one brings the Memes AI session back', async () => {
    const { page } = session;
    await nav('Account').click();
    const form = page.getByRole('form', { name: 'Log in' });
    await form.getByLabel('Handle').fill(handle);
    await form.getByLabel('Password').fill('not the password');
    await form.getByRole('button', { name: 'Log in' }).click();
    await poll(() => form.getByRole('alert').textContent()).toBe('Wrong handle or password UNAUTHENTICATED');
    await session.screenshot('13-wrong-password');

    await form.getByLabel('Password').fill('a long gallery password');
    await form.getByRole('button', { name: 'Log in' }).click();
    await poll(() => page.getByText(`Signed in as @${handle}`).textContent()).toBe(
      `Signed in as @${handle} · Memes AI (premium)`,
    );
    await poll(async () => (await memeIds(feed()))[0]).toMatch(/^\d+$/);
    expect(await feed().locator('article').first().getByText('AI meme', { exact: true }).count()).toBe(1);
  });

  it('sent manifest ids only, named as the gallery, and nothing left the machine', async () => {
    const sent = await Promise.all(operations);
    const ids = new Set(manifest.operations.map((operation) => operation.id));
    expect(sent.length).toBeGreaterThan(10);
    expect(
      sent.filter(
        (operation) =>
          operation.hasQueryText || !ids.has(operation.hash ?? '') || operation.clientName !== GALLERY_CLIENT_NAME,
      ),
    ).toEqual([]);
    expect(new Set(sent.map((operation) => operation.operationName))).toEqual(
      new Set([
        'Feed',
        'TrendingMemes',
        'SearchMemes',
        'MemeById',
        'MemesPage',
        'SignUp',
        'LogIn',
        'LogOut',
        'Me',
        'Vote',
        'Subscribe',
        'GenerateMeme',
        'Generation',
      ]),
    );
    expect(session.blocked).toEqual([]);
    expect(session.pageErrors).toEqual([]);
    // The browser reports the one refused log-in (HTTP 401) itself; nothing else went wrong.
    expect(session.consoleErrors).toEqual([
      'Failed to load resource: the server responded with a status of 401 (Unauthorized)',
    ]);
  });

  it('the router enforced the manifest for the gallery: query text under its name is refused, and other clients are not held to it', async () => {
    const text = '{ trending(first: 1) { id } }';
    const asGallery = await gql(`${stack.routerUrl}/graphql`, text, undefined, {
      'apollographql-client-name': GALLERY_CLIENT_NAME,
    });
    expect(asGallery.status).toBe(400);
    expect(asGallery.body.errors?.map((error) => error.extensions?.code)).toEqual(['PERSISTED_QUERY_NOT_IN_LIST']);
    const asAnotherClient = await gql(`${stack.routerUrl}/graphql`, text);
    expect(asAnotherClient.status).toBe(200);
    expect(asAnotherClient.body.errors).toBeUndefined();
  });
});

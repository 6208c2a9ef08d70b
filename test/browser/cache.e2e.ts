import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserPage, launchBrowser, openPage, poll } from '../support/browser';
import { buildGallery, galleryRouterEnv } from '../support/gallery';
import { startStack, type Stack } from '../support/stack';

/**
 * The gallery in one browser tab shared by several people, with Chromium's
 * HTTP cache on as users have it: what one viewer was answered must never be
 * shown to the next, and a new plan shows at once.
 */

const PASSWORD = 'a long gallery password';

let gallery: Awaited<ReturnType<typeof buildGallery>>;
let stack: Stack;
let browser: Browser;
const tabs: BrowserPage[] = [];

beforeAll(async () => {
  gallery = await buildGallery();
  stack = await startStack({ users: 10, memes: 60, routerEnv: galleryRouterEnv(gallery.dir) });
  browser = await launchBrowser();
});

afterAll(async () => {
  for (const tab of tabs) await tab.close();
  await browser?.close();
  await stack?.close();
  await gallery?.remove();
});

async function openTab(name: string): Promise<BrowserPage> {
  const tab = await openPage(browser, `cache-${name}`);
  tabs.push(tab);
  return tab;
}

const handleFor = (name: string) => `${name}_${randomBytes(3).toString('hex')}`;
const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name });
const viewerStatus = (page: Page) => page.getByText(/^Signed in as @/);
const feed = (page: Page) => page.getByRole('list', { name: 'Feed' });
const aiMemes = (page: Page) => feed(page).getByText('AI meme', { exact: true });

async function logIn(page: Page, handle: string): Promise<void> {
  await nav(page, 'Account').click();
  const form = page.getByRole('form', { name: 'Log in' });
  await form.getByLabel('Handle').fill(handle);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Log in' }).click();
}

async function logOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Log out' }).click();
  await poll(() => page.getByRole('link', { name: 'Sign up or log in' }).isVisible()).toBe(true);
}

/** The first viewer the page names once someone signs in: it must be them from the start. */
async function firstViewerShown(page: Page): Promise<string> {
  await poll(async () => (await viewerStatus(page).count()) > 0).toBe(true);
  return (await viewerStatus(page).textContent())!;
}

async function signUpAccount(handle: string, plan?: 'PREMIUM') {
  const response = await fetch(`${stack.routerUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `mutation($h: String!, $p: String!) { signUp(handle: $h, password: $p) { token } }`,
      variables: { h: handle, p: PASSWORD },
    }),
  });
  const { data } = (await response.json()) as { data: { signUp: { token: string } } };
  if (plan) {
    await fetch(`${stack.routerUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${data.signUp.token}` },
      body: JSON.stringify({ query: `mutation { subscribe(plan: PREMIUM) { status } }` }),
    });
  }
}

describe('the gallery and the browser’s HTTP cache', () => {
  it('Alice logs in and out, Bob signs up in the same tab: the page shows @bob from the start', async () => {
    const { page, ...tab } = await openTab('user-switch');
    const alice = handleFor('alice');
    const bob = handleFor('bob');
    await signUpAccount(alice);

    await page.goto(`${stack.routerUrl}/`);
    await poll(() => feed(page).getByRole('article').count()).toBe(12);
    await logIn(page, alice);
    expect(await firstViewerShown(page)).toBe(`Signed in as @${alice} · Free`);
    await poll(() => feed(page).getByRole('article').count()).toBe(12);
    await logOut(page);

    await nav(page, 'Account').click();
    const form = page.getByRole('form', { name: 'Sign up' });
    await form.getByLabel('Handle').fill(bob);
    await form.getByLabel('Password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Sign up' }).click();
    expect(await firstViewerShown(page)).toBe(`Signed in as @${bob} · Free`);
    await nav(page, 'Account').click();
    await poll(() => page.getByRole('heading', { level: 2 }).textContent()).toBe(`@${bob}`);
    expect(tab.blocked).toEqual([]);
    expect(tab.pageErrors).toEqual([]);
  });

  it('a Memes AI viewer logs out: the visitor after them on the same tab sees no AI memes', async () => {
    const { page, ...tab } = await openTab('premium-log-out');
    const premium = handleFor('premium');
    await signUpAccount(premium, 'PREMIUM');

    await page.goto(`${stack.routerUrl}/#/account`);
    await logIn(page, premium);
    expect(await firstViewerShown(page)).toBe(`Signed in as @${premium} · Memes AI (premium)`);
    await poll(() => feed(page).getByRole('article').count()).toBe(12);
    await poll(() => aiMemes(page).count()).toBeGreaterThan(0);

    await logOut(page);
    await poll(() => feed(page).getByRole('article').count()).toBe(12);
    expect(await aiMemes(page).count()).toBe(0);
    await page.reload();
    await poll(() => feed(page).getByRole('article').count()).toBe(12);
    expect(await aiMemes(page).count()).toBe(0);
    expect(tab.blocked).toEqual([]);
    expect(tab.pageErrors).toEqual([]);
  });

  // Clear-Site-Data needs a potentially trustworthy origin: Chromium counts both loopback names as one.
  for (const host of ['127.0.0.1', 'localhost']) {
    it(`an upgrade shows the new plan and the AI memes at once (http://${host})`, async () => {
      const { page, ...tab } = await openTab(`upgrade-${host}`);
      const viewer = handleFor('upgrader');
      await signUpAccount(viewer);
      const origin = stack.routerUrl.replace('127.0.0.1', host);

      await page.goto(`${origin}/#/account`);
      await logIn(page, viewer);
      expect(await firstViewerShown(page)).toBe(`Signed in as @${viewer} · Free`);
      // The free feed, now in the browser's cache for this viewer.
      await poll(() => feed(page).getByRole('article').count()).toBe(12);
      expect(await aiMemes(page).count()).toBe(0);

      await nav(page, 'Account').click();
      await page.getByRole('button', { name: 'Upgrade to Memes AI' }).click();
      await poll(() => page.getByText('Welcome to Memes AI: your feed now includes AI memes.').isVisible()).toBe(true);
      expect(await viewerStatus(page).textContent()).toBe(`Signed in as @${viewer} · Memes AI (premium)`);
      expect(await page.getByText('Plan:').textContent()).toBe('Plan: Memes AI (premium)');

      await nav(page, 'Feed').click();
      await poll(() => feed(page).getByRole('article').count()).toBe(12);
      expect(await aiMemes(page).count()).toBeGreaterThan(0);
      expect(tab.blocked).toEqual([]);
      expect(tab.pageErrors).toEqual([]);
    });
  }
});

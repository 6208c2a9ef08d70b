import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../support/accounts';
import { type BrowserPage, launchBrowser, openPage, poll } from '../support/browser';
import { gql } from '../support/client';
import { buildGallery, galleryRouterEnv } from '../support/gallery';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from '../support/stack';

/*
 * The three pages at a desktop width and a phone's: nothing runs off the
 * side of the page (scrollWidth ≤ clientWidth), the explorer's first tab reads
 * without sideways scrolling, and the status page's charts have axes, an idle
 * state, and the same numbers in caption, legend and hover. Screenshots of
 * each under test-artifacts/layout-<width>/.
 */

const WIDTHS = [
  { width: 1280, height: 860 },
  { width: 390, height: 844 },
] as const;

/** The page's widths, and the elements that reach past its right edge when it is too wide. */
interface Widths {
  scrollWidth: number;
  clientWidth: number;
  bodyWidth: number;
  past: string[];
}

/** The page's widths, and the outermost elements that reach past its right edge when it is too wide. Run in the page. */
const MEASURE = `(() => {
  const root = document.documentElement;
  const past = [...document.querySelectorAll('body *')]
    .filter((element) => element.getBoundingClientRect().right > root.clientWidth + 0.5)
    // What a scrolling container holds does not widen the page.
    .filter((element) => getComputedStyle(element.parentElement).overflowX === 'visible')
    .map((element) => element.tagName.toLowerCase() + '.' + String(element.className))
    .slice(0, 5);
  return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, bodyWidth: document.body.scrollWidth, past };
})()`;

async function expectNoSidewaysScroll(page: Page, what: string) {
  const measured = await page.evaluate<Widths>(MEASURE);
  expect(measured.scrollWidth, `${what}: ${JSON.stringify(measured)}`).toBeLessThanOrEqual(measured.clientWidth);
  expect(measured.bodyWidth, `${what}: ${JSON.stringify(measured)}`).toBeLessThanOrEqual(measured.clientWidth);
}

let gallery: Awaited<ReturnType<typeof buildGallery>>;
let stack: Stack;
let browser: Browser;
let memeId: string;
let tag: string;
let token: string;

beforeAll(async () => {
  [gallery, browser] = await Promise.all([buildGallery(), launchBrowser()]);
  stack = await startStack({
    users: 5,
    memes: 30,
    routerEnv: { ...galleryRouterEnv(gallery.dir), TIERS_JSON: GENEROUS_ANONYMOUS },
  });
  const trending = await gql<{ trending: { id: string; tags: string[] }[] }>(
    `${stack.routerUrl}/graphql`,
    '{ trending(first: 5) { id tags } }',
  );
  const tagged = trending.body.data!.trending.find((meme) => meme.tags.length > 0)!;
  memeId = tagged.id;
  tag = tagged.tags[0]!;
  // A signed-in viewer's masthead and account page are wider than an anonymous one's.
  token = (await signUp(stack.routerUrl, 'phone_width_viewer')).token;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await gallery?.remove();
});

describe('the gallery at 1280 and 390 px', () => {
  it('no page is wider than the screen, anonymous or signed in', async () => {
    const views = [
      ['feed', '/'],
      ['trending', '/#/trending'],
      ['search', '/#/search?q=cat'],
      ['tag', `/#/tag/${encodeURIComponent(tag)}`],
      ['meme', `/#/meme/${memeId}`],
      ['account', '/#/account'],
      ['generate', '/#/generate'],
      ['not-found', '/#/no-such-page'],
    ] as const;
    for (const signedIn of [false, true]) {
      const session = await openPage(browser, 'layout-gallery');
      const { page } = session;
      if (signedIn)
        await page.addInitScript(`localStorage.setItem('memegraph.gallery.token', ${JSON.stringify(token)})`);
      // Signed in, the masthead, the account page and the generate page change; the lists do not.
      for (const [name, path] of views.filter(
        ([view]) => !signedIn || ['feed', 'account', 'generate'].includes(view),
      )) {
        await page.setViewportSize(WIDTHS[0]);
        await page.goto(`${stack.routerUrl}${path}`);
        await poll(() => page.locator('main').innerText()).not.toMatch(/^\s*$|Loading/);
        await poll(() => page.evaluate<boolean>('[...document.images].every((image) => image.complete)')).toBe(true);
        // The same page at each width: the layout follows the viewport at once.
        for (const viewport of WIDTHS) {
          await page.setViewportSize(viewport);
          const what = `gallery ${name}${signedIn ? ' signed in' : ''} at ${viewport.width} px`;
          await expectNoSidewaysScroll(page, what);
          await session.screenshot(`${name}${signedIn ? '-signed-in' : ''}-${viewport.width}`);
        }
      }
      expect(session.blocked).toEqual([]);
      expect(session.pageErrors).toEqual([]);
      await session.close();
    }
  });
});

describe("the explorer's docs", () => {
  it('come from introspection, whose descriptions say which fields need sign-in or Memes AI, and their limits', async () => {
    const answer = await gql<{ __type: { fields: { name: string; description: string }[] } }>(
      `${stack.routerUrl}/graphql`,
      '{ __type(name: "Mutation") { fields { name description } } }',
    );
    const described = Object.fromEntries(
      answer.body.data!.__type.fields.map((f) => [f.name, f.description.replace(/\s+/g, ' ')]),
    );
    expect(described.generateMeme).toContain(
      'Needs sign-in and Memes AI (the `memes:ai` scope: premium and enterprise)',
    );
    expect(described.generateMeme).toContain('Costs 100 points');
    expect(described.vote).toContain('at most 60 calls per minute per viewer');
  });
});

describe.each(WIDTHS)('at $width px', (viewport) => {
  const open = async (name: string) => {
    const session = await openPage(browser, `layout-${viewport.width}`);
    await session.page.setViewportSize(viewport);
    return { session, name };
  };
  const finish = async (session: BrowserPage) => {
    expect(session.blocked).toEqual([]);
    expect(session.pageErrors).toEqual([]);
    await session.close();
  };

  it("the explorer: no sideways scroll, and its first tab's lines fit its editor", async () => {
    const { session } = await open('explorer');
    const { page } = session;
    await page.goto(`${stack.routerUrl}/graphql`);
    await page.locator('.graphiql-query-editor .CodeMirror-code').waitFor({ timeout: 15_000 });
    await poll(() => page.locator('.graphiql-query-editor .CodeMirror-code').innerText()).toContain(
      'query TrendingMemes',
    );
    await expectNoSidewaysScroll(page, 'explorer');
    const editor = await page.locator('.graphiql-query-editor .CodeMirror-scroll').evaluate((scroller) => ({
      scrollWidth: scroller.scrollWidth,
      clientWidth: scroller.clientWidth,
    }));
    expect(editor.scrollWidth, JSON.stringify(editor)).toBeLessThanOrEqual(editor.clientWidth);
    // The welcome comment reads whole, each of its lines one of the editor's.
    const lines = await page
      .locator('.graphiql-query-editor .CodeMirror-line')
      .evaluateAll((elements) => elements.map((line) => line.textContent));
    expect(lines.slice(0, 7)).toEqual([
      '# Welcome to Memegraph!',
      '# ▶ or Ctrl-Enter runs it.',
      '# Docs (the book, left):',
      '# every field, who may',
      '# ask for it, its cost.',
      '# An API key above runs',
      '# it as you.',
    ]);
    await session.screenshot('explorer');
    await finish(session);
  });

  it('the status page: axes, "no traffic" when idle, the same numbers in caption, legend and hover, and tables within the page', async () => {
    // A router of its own, so the page opens on no traffic.
    const router = await stack.addRouter({ STATUS_SAMPLE_MS: '250' });
    const { session } = await open('status');
    const { page } = session;
    await page.goto(`${router}/status`);
    await poll(() => page.locator('#state').getAttribute('data-state')).toBe('live');
    const requests = page.locator('[data-chart="requests"]');
    const labels = () => requests.locator('svg text').evaluateAll((texts) => texts.map((text) => text.textContent));
    await poll(labels).toContain('now');
    // Idle: said in words, on every traffic chart.
    for (const name of ['requests', 'latency', 'rejections']) {
      const chart = page.locator(`[data-chart="${name}"]`);
      expect(await chart.getAttribute('data-idle'), name).toBe('true');
      expect(await chart.locator('text.idle').textContent(), name).toBe('no traffic');
    }
    expect(
      await page.locator('[data-chart="latency"] path').evaluateAll((paths) => paths.map((p) => p.getAttribute('d'))),
    ).toEqual(['', '']);
    // The value axis is labelled with its unit.
    expect(await labels()).toEqual(expect.arrayContaining(['0/s', '1/s']));
    await expectNoSidewaysScroll(page, 'status, idle');
    await session.screenshot('status-idle');

    for (let i = 0; i < 3; i++) await gql(`${router}/graphql`, '{ trending(first: 3) { id } }');
    await poll(() => requests.getAttribute('data-idle')).toBe('false');
    // The newest interval under the pointer: its value is the caption's and the legend's.
    const box = (await requests.locator('svg').boundingBox())!;
    await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
    await poll(() => requests.locator('.tip').isVisible()).toBe(true);
    const shown = await requests.evaluate((figure) => ({
      caption: figure.querySelector('[data-now]')!.textContent,
      legend: figure.querySelector('.legend b')!.textContent,
      tip: (figure.querySelector('.tip') as unknown as { innerText: string }).innerText,
    }));
    expect(shown.tip.split('\n')[0]).toBe('now');
    expect(shown.tip).toContain(`requests ${shown.legend}`);
    expect(shown.legend).toBe(shown.caption);
    await expectNoSidewaysScroll(page, 'status, with traffic');
    await session.screenshot('status-hover');
    await finish(session);
  });
});

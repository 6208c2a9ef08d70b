import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../support/accounts';
import { gql } from '../support/client';
import { type BrowserPage, launchBrowser, openPage, poll } from '../support/browser';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from '../support/stack';

/** Waits for what the page shows: the explorer's bundle and its first introspection take a moment. */

describe('the explorer in Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let session: BrowserPage;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([
      startStack({ routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } }),
      launchBrowser(),
    ]);
  });

  afterEach(async () => {
    // Whatever a test did, nothing may have left the machine and the page must not have failed.
    expect(session.blocked).toEqual([]);
    expect(session.pageErrors).toEqual([]);
    expect(session.consoleErrors).toEqual([]);
    await session.close();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  const open = async (name: string) => {
    session = await openPage(browser, `explorer-${name}`);
    await session.page.goto(`${stack.routerUrl}/graphql`);
    await session.page.locator('.graphiql-container').waitFor({ timeout: 15_000 });
    return session.page;
  };
  const response = () => session.page.locator('.graphiql-response').innerText();

  it('runs an example operation and shows its result', async () => {
    const page = await open('example');
    const expected = await gql<{ trending: { title: string }[] }>(
      `${stack.routerUrl}/graphql`,
      '{ trending(first: 5) { title } }',
    );
    await poll(() => page.getByRole('tab').allInnerTexts()).toEqual([
      'TrendingMemes',
      'SearchMemes',
      'Me',
      'Templates',
    ]);
    await page.locator('.graphiql-execute-button').click();
    await poll(response).toContain('"trending"');
    // The panel draws the lines in view: the first memes, in the API's order.
    const shown = [...(await response()).matchAll(/"title": "([^"]+)"/g)].map((m) => m[1]);
    expect(shown.length).toBeGreaterThanOrEqual(3);
    expect(shown).toEqual(expected.body.data!.trending.map((m) => m.title).slice(0, shown.length));
    await session.screenshot('trending-result');
  });

  it('reads the schema docs from introspection', async () => {
    const page = await open('docs');
    await page.getByRole('button', { name: /documentation explorer/i }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await poll(() => docs.innerText()).toContain('Query');
    await docs.getByText('Query', { exact: true }).first().click();
    await poll(() => docs.innerText()).toContain('trending');
    expect(await docs.innerText()).toContain('The highest-scoring memes.');
    await session.screenshot('docs');
  });

  it('sends the API key from its field with a typed query', async () => {
    const account = await signUp(stack.routerUrl, 'explorer_user');
    const created = await account.client<{ createApiKey: { secret: string } }>(
      'mutation { createApiKey(name: "explorer") { secret } }',
    );
    const page = await open('api-key');
    await page.locator('#api-key').fill(created.body.data!.createApiKey.secret);
    const editor = page.locator('.graphiql-query-editor .CodeMirror').first();
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    // Typed as text: key presses would get CodeMirror's closing brackets added.
    await page.keyboard.insertText('query Mine { me { handle tier } }');
    // GraphiQL reads the operation name from the editor a moment later; the tab shows when it has.
    await poll(() => page.locator('.graphiql-tab-active').innerText()).toBe('Mine');
    await page.locator('.graphiql-execute-button').click();
    await poll(response).toContain('"handle": "explorer_user"');
    expect(await response()).toContain('"tier": "FREE"');
    await session.screenshot('typed-with-api-key');
  });
});

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from '../support/accounts';
import { gql } from '../support/client';
import { launchBrowser, openPage, poll } from '../support/browser';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from '../support/stack';

/** What a chart shows: its line(s) and the number in its caption. */
async function chart(page: Page, name: string) {
  const figure = page.locator(`[data-chart="${name}"]`);
  return {
    paths: await figure.locator('path:not(.dot)').evaluateAll((paths) => paths.map((p) => p.getAttribute('d') ?? '')),
    last: JSON.parse((await figure.getAttribute('data-last')) ?? '[]') as (number | null)[],
    now: await figure.locator('[data-now]').innerText(),
  };
}

describe('the status page in Chromium', () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([
      startStack({ routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS } }),
      launchBrowser(),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('draws the router’s traffic as it happens: charts move when load is applied', async () => {
    // A router of its own, so the page starts from no traffic; one alias allowed to anonymous
    // viewers there, so part of the load below is refused and rejections move too.
    const router = await stack.addRouter({
      STATUS_SAMPLE_MS: '500',
      TIERS_JSON: JSON.stringify({
        anonymous: {
          requestsPerMinute: 100_000,
          maxAliases: 1,
          maxCostPerOperation: 100_000,
          costBucketCapacity: 1_000_000,
        },
      }),
    });
    const session = await openPage(browser, 'status-live');
    let loading = true;
    let load: Promise<number[]> = Promise.resolve([]);
    try {
      const { page } = session;
      await page.goto(`${router}/status`);
      await poll(() => page.locator('#state').getAttribute('data-state')).toBe('live');
      await poll(async () => (await chart(page, 'requests')).paths[0]?.length ?? 0).toBeGreaterThan(0);
      const before = {
        requests: await chart(page, 'requests'),
        latency: await chart(page, 'latency'),
        rejections: await chart(page, 'rejections'),
      };
      expect(before.requests.last).toEqual([0]);
      expect(before.latency.last).toEqual([null, null]);
      await poll(() => page.locator('#subgraphs tbody tr').count()).toBe(3);
      expect(await page.locator('#subgraphs tbody').innerText()).not.toContain('unavailable');
      await session.screenshot('before-load');

      // Load, ten at a time, until the page has drawn it: nine of a cacheable query, so the
      // local cache layer gets hits, and one with two aliases, refused.
      const query = '{ trending(first: 5) { id title score } }';
      const refused = '{ a: trending(first: 1) { id } b: trending(first: 2) { id } }';
      load = (async () => {
        const statuses: number[] = [];
        while (loading) {
          const answers = await Promise.all(
            Array.from({ length: 10 }, (_, i) => gql(`${router}/graphql`, i === 0 ? refused : query)),
          );
          statuses.push(...answers.map((a) => a.status));
        }
        return statuses;
      })();

      // The newest interval drawn has requests, both latency lines and cache hits.
      await poll(async () => {
        const [requests, latency, cache] = [
          await chart(page, 'requests'),
          await chart(page, 'latency'),
          await chart(page, 'cache'),
        ];
        return (
          (requests.last[0] ?? 0) > 0 &&
          latency.last.every((v) => typeof v === 'number' && v > 0) &&
          (cache.last[0] ?? 0) > 0
        );
      }, 30_000).toBe(true);
      const after = {
        requests: await chart(page, 'requests'),
        latency: await chart(page, 'latency'),
        cache: await chart(page, 'cache'),
      };
      expect(after.requests.paths[0]).not.toBe(before.requests.paths[0]);
      expect(after.requests.now).toMatch(/^[\d,.]+\/s$/);
      // p50 and p99 of that interval, drawn as two lines.
      expect(after.latency.paths.every((d) => d.length > 0)).toBe(true);
      expect(after.cache.now).toMatch(/^\d+%$/);
      await poll(async () =>
        (await page.locator('[data-chart="rejections"] .legend').innerText()).includes('MAX_ALIASES_EXCEEDED'),
      ).toBe(true);
      const rejections = await chart(page, 'rejections');
      expect(rejections.paths[0]).not.toBe(before.rejections.paths[0]);
      await poll(() => page.locator('#totals').innerText()).toContain('rejected: MAX_ALIASES_EXCEEDED');
      await session.screenshot('after-load');
      loading = false;
      const statuses = await load;
      expect(new Set(statuses)).toEqual(new Set([200, 400]));

      expect(session.blocked).toEqual([]);
      expect(session.pageErrors).toEqual([]);
      expect(session.consoleErrors).toEqual([]);
    } finally {
      loading = false;
      await load;
      await session.close();
    }
  });

  it('asks for an admin key when the viewer is not on loopback, and shows the status with one', async () => {
    // Past a trusted proxy that names another address, as a browser elsewhere would be seen.
    const proxied = await stack.addRouter({ STATUS_SAMPLE_MS: '500', TRUST_PROXY: 'loopback' });
    const admin = await signUp(stack.routerUrl, 'status_operator');
    await stack.dbs.users.query(`UPDATE users SET is_admin = true WHERE id = $1`, [admin.id]);
    const key = (
      await admin.client<{ createApiKey: { secret: string } }>('mutation { createApiKey(name: "status") { secret } }')
    ).body.data!.createApiKey.secret;

    const session = await openPage(browser, 'status-admin');
    try {
      const { page } = session;
      await session.context.setExtraHTTPHeaders({ 'x-forwarded-for': '203.0.113.7' });
      await page.goto(`${proxied}/status`);
      await poll(() => page.locator('#state').getAttribute('data-state')).toBe('locked');
      expect(await page.locator('#state').innerText()).toContain('for operators');
      await poll(() => page.locator('#subgraphs tbody tr').count()).toBe(0);
      await session.screenshot('locked');

      await page.locator('#api-key').fill(key);
      await page.getByRole('button', { name: 'Show' }).click();
      await poll(() => page.locator('#state').getAttribute('data-state')).toBe('live');
      await poll(() => page.locator('#subgraphs tbody tr').count()).toBe(3);
      await session.screenshot('unlocked');

      expect(session.blocked).toEqual([]);
      expect(session.pageErrors).toEqual([]);
      // The refused read, as the browser logs it; nothing else went wrong.
      expect(session.consoleErrors).toEqual([
        'Failed to load resource: the server responded with a status of 401 (Unauthorized)',
      ]);
    } finally {
      await session.close();
    }
  });
});

import { existsSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopbackUrl, launchBrowser, openPage } from '../support/browser';

// The fence every browser test relies on: it must let this machine through and stop the rest.
describe('browser test harness', () => {
  let browser: Browser;
  let server: http.Server;
  let origin: string;
  let cachedServed = 0;

  beforeAll(async () => {
    browser = await launchBrowser();
    server = http.createServer((req, res) => {
      if (req.url === '/local.txt')
        return res.writeHead(200, { 'content-type': 'text/plain' }).end('from this machine');
      if (req.url === '/cached.txt') {
        cachedServed++;
        return res
          .writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' })
          .end(`answer ${cachedServed}`);
      }
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>fence</title>
        <img src="http://memegraph.invalid/pixel.png">
        <p id="local">…</p>
        <script>
          fetch('/local.txt').then((r) => r.text()).then((t) => { document.getElementById('local').textContent = t; });
          console.error('a logged error');
          setTimeout(() => { throw new Error('an uncaught error'); });
        </script>`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('tells loopback addresses from everything else', () => {
    for (const url of [
      'http://127.0.0.1:4000/graphql',
      'http://localhost:3000/',
      'http://[::1]:80/',
      'http://127.8.9.10/',
      'data:text/plain,x',
    ]) {
      expect(isLoopbackUrl(url), url).toBe(true);
    }
    for (const url of [
      'http://192.168.1.10/',
      'https://unpkg.com/graphiql',
      'http://10.0.0.1/',
      'http://[::2]/',
      'http://127.0.0.1.example.com/',
      'not a url',
    ]) {
      expect(isLoopbackUrl(url), url).toBe(false);
    }
  });

  it('lets the page reach this machine, aborts and records any other request, collects errors and saves screenshots', async () => {
    const session = await openPage(browser, 'harness');
    try {
      await session.page.goto(`${origin}/`);
      await expect.poll(() => session.page.locator('#local').textContent()).toBe('from this machine');
      await expect.poll(() => session.pageErrors).toContain('an uncaught error');
      expect(session.blocked).toEqual(['http://memegraph.invalid/pixel.png']);
      expect(session.consoleErrors).toContain('a logged error');
      const file = await session.screenshot('fence');
      expect(existsSync(file) && statSync(file).size).toBeGreaterThan(1000);
    } finally {
      await session.close();
    }
  });

  it('refuses addresses off the machine too, link-local ones included', async () => {
    const session = await openPage(browser, 'harness-addresses');
    try {
      await session.page.goto(`${origin}/local.txt`);
      const targets = ['http://169.254.169.254/latest/meta-data/', 'http://192.0.2.1/', 'http://[2001:db8::1]/'];
      const outcomes = await session.page.evaluate(
        (urls) =>
          Promise.all(
            urls.map((url) =>
              fetch(url, { mode: 'no-cors' }).then(
                () => 'reached',
                () => 'refused',
              ),
            ),
          ),
        targets,
      );
      expect(outcomes).toEqual(targets.map(() => 'refused'));
      expect(session.blocked).toEqual(targets);
    } finally {
      await session.close();
    }
  });

  it('keeps Chromium’s HTTP cache on, as users’ browsers have it', async () => {
    const session = await openPage(browser, 'harness-cache');
    try {
      await session.page.goto(`${origin}/local.txt`);
      const read = () => session.page.evaluate(() => fetch('/cached.txt').then((r) => r.text()));
      expect([await read(), await read()]).toEqual(['answer 1', 'answer 1']);
      expect(cachedServed).toBe(1);
    } finally {
      await session.close();
    }
  });
});

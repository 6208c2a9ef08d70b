import { mkdirSync } from 'node:fs';
import net, { isIP, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * Headless Chromium for end-to-end tests: Debian's own build (never a
 * downloaded one), and pages that may reach only this machine.
 *
 * The fence is in the browser's network stack, not in Playwright's request
 * routing: routing (`page.route`) turns Chromium's HTTP cache off, and the
 * tests must see the cache as users' browsers have it.
 */

/** Debian's Chromium; `.ci/run` installs it when missing. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

const LAUNCH_ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // No host name but localhost resolves, so even a request Playwright cannot see (a prefetch,
  // the browser's own) finds no server off the machine.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost, EXCLUDE 127.*, EXCLUDE ::1',
];

/**
 * Everything but loopback goes to a proxy that refuses every connection (addresses too, which
 * the resolver rules do not cover). `<-loopback>` drops Chromium's implicit bypass list, which
 * also lets link-local addresses through, and the loopback rules are listed again.
 */
const proxyArgs = (port: number) => [
  `--proxy-server=http://127.0.0.1:${port}`,
  '--proxy-bypass-list=<-loopback>;localhost;*.localhost;127.0.0.0/8;[::1]',
];

/** A proxy that takes connections and closes them at once: no request through it gets anywhere. */
async function startRefusingProxy(): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  return server;
}

/** Loopback only: 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackUrl(raw: string): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  // In-page data never leaves the browser.
  if (url.protocol === 'data:' || url.protocol === 'blob:' || url.protocol === 'about:') return true;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** Retries `read` until the matcher that follows holds: a page draws what it fetched a moment later. */
export const poll = <T>(read: () => Promise<T> | T, timeoutMs = 15_000) =>
  expect.poll(read, { timeout: timeoutMs, interval: 100 });

export async function launchBrowser(): Promise<Browser> {
  const refusing = await startRefusingProxy();
  // Playwright makes a fresh, throw-away profile directory for each launch.
  const browser = await chromium
    .launch({
      executablePath: CHROMIUM_PATH,
      headless: true,
      chromiumSandbox: false,
      args: [...LAUNCH_ARGS, ...proxyArgs((refusing.address() as AddressInfo).port)],
    })
    .catch((error: unknown) => {
      refusing.close();
      throw error;
    });
  browser.on('disconnected', () => refusing.close());
  return browser;
}

export interface BrowserPage {
  page: Page;
  context: BrowserContext;
  /** Every request to anything but this machine: refused by the browser's proxy, and recorded here so a test can demand none. */
  blocked: string[];
  /** `console.error` lines and failed loads the page reported. */
  consoleErrors: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** Saves a full-page screenshot as `test-artifacts/<suite>/<name>.png` and returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * A page in a context of its own, whose every request and WebSocket is
 * watched: loopback passes, anything else is refused by the browser's proxy
 * and recorded. Service workers are blocked, since their requests would not
 * be seen. Nothing is routed, so the HTTP cache works as for users.
 */
export async function openPage(browser: Browser, suite: string): Promise<BrowserPage> {
  const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 860 } });
  const blocked: string[] = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  context.on('request', (request) => {
    if (!isLoopbackUrl(request.url())) blocked.push(request.url());
  });
  const watchSockets = (opened: Page) =>
    opened.on('websocket', (ws) => {
      if (!isLoopbackUrl(ws.url().replace(/^ws/, 'http'))) blocked.push(ws.url());
    });
  context.on('page', watchSockets);
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const dir = path.join(ARTIFACTS, suite.replace(/[^\w.-]+/g, '-'));
  return {
    page,
    context,
    blocked,
    consoleErrors,
    pageErrors,
    async screenshot(name) {
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    close: () => context.close(),
  };
}

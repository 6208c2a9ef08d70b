import { mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

/**
 * Headless Chromium for end-to-end tests: Debian's own build (never a
 * downloaded one), and pages that may reach only this machine.
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
  // A second fence behind the request router below: no host name but localhost resolves, so
  // even a request Playwright cannot see (a prefetch, the browser's own) finds no server off the machine.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost, EXCLUDE 127.*, EXCLUDE ::1',
];

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
export const poll = <T>(read: () => Promise<T> | T, timeoutMs = 15_000) => expect.poll(read, { timeout: timeoutMs, interval: 100 });

export async function launchBrowser(): Promise<Browser> {
  // Playwright makes a fresh, throw-away profile directory for each launch.
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, chromiumSandbox: false, args: LAUNCH_ARGS });
}

export interface BrowserPage {
  page: Page;
  context: BrowserContext;
  /** Every request to anything but this machine: aborted, and recorded here so a test can demand none. */
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
 * checked: loopback passes, anything else is aborted and recorded.
 * Service workers are blocked, since their requests would bypass the check.
 */
export async function openPage(browser: Browser, suite: string): Promise<BrowserPage> {
  const context = await browser.newContext({ serviceWorkers: 'block', viewport: { width: 1280, height: 860 } });
  const blocked: string[] = [];
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (isLoopbackUrl(url)) return route.continue();
    blocked.push(url);
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(
    () => true,
    (ws) => {
      if (isLoopbackUrl(ws.url().replace(/^ws/, 'http'))) return ws.connectToServer();
      blocked.push(ws.url());
      return ws.close({ code: 1008, reason: 'blocked by the test' });
    },
  );
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

// What every browser test gets: pages that are policed for console errors, users made through
// the UI or the API, screenshots, and small assertions.
import { expectConsole, police, shotPath } from './harness.mjs';

const RUN = Date.now().toString(36).slice(-6);
let userSeq = 0;

export class AssertionError extends Error {}
export function assert(cond, message) {
  if (!cond) throw new AssertionError(message);
}
export function assertEqual(actual, expected, message) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new AssertionError(`${message}: expected ${e}, got ${a}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value (returned) or the time is up. */
export async function eventually(fn, { timeoutMs = 20_000, intervalMs = 100, message = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new AssertionError(`timed out waiting for ${message} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(intervalMs);
  }
}

export function uniqueName(prefix) {
  userSeq += 1;
  return `${prefix}${RUN}${userSeq}`.slice(0, 32);
}

export function makeContext({ browser, backend, site, figures, testName }) {
  const contexts = [];
  const pages = [];
  const errors = [];
  let shotSeq = 0;
  const slug = testName.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 40);

  const ctx = {
    backend,
    site,
    figures,
    errors,
    browser,

    /** A new browser context (its own storage, like another person's browser) and a page in it. */
    async newPage(label, { viewport = { width: 1280, height: 800 }, url = '/', ready = true, permissions } = {}) {
      const context = await browser.newContext({ viewport, permissions });
      contexts.push(context);
      const page = await context.newPage();
      page._label = label;
      police(page, label, errors);
      pages.push(page);
      if (url) {
        await page.goto(site.url + url);
        if (ready && url === '/') await page.waitForSelector('html[data-ready]');
      }
      return page;
    },

    expectConsole,

    async shot(page, name, opts = {}) {
      const path = shotPath(name);
      await page.screenshot({ path, ...opts });
      return path;
    },

    /** Registers through the REST API (fast); returns {user, accessToken, refreshToken, password}. */
    async apiUser(prefix = 'u', displayName) {
      const username = uniqueName(prefix);
      const password = `pw-${username}-secret`;
      const r = await fetch(`${backend.httpUrl}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, email: `${username}@example.test`, password, displayName }),
      });
      const body = await r.json();
      assert(r.status === 201, `register ${username}: ${r.status} ${JSON.stringify(body)}`);
      return { ...body, username, password };
    },

    async api(token, method, path, body) {
      const r = await fetch(`${backend.httpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await r.text();
      const json = text ? JSON.parse(text) : null;
      if (!r.ok) throw new AssertionError(`${method} ${path}: ${r.status} ${text}`);
      return json;
    },

    /** Signs up through the UI; resolves once the socket is open. */
    async signUp(page, prefix = 'u', displayName) {
      const username = uniqueName(prefix);
      const password = `pw-${username}-secret`;
      await page.click('#tab-signup');
      await page.fill('#signup-username', username);
      if (displayName) await page.fill('#signup-display', displayName);
      await page.fill('#signup-email', `${username}@example.test`);
      await page.fill('#signup-password', password);
      await page.click('#signup-form button[type=submit]');
      await page.waitForSelector('#conn-status[data-state=open]', { timeout: 60_000 });
      const id = await page.evaluate(() => window.chatApp.client.user.id);
      return { username, password, id, displayName: displayName || username };
    },

    async signIn(page, login, password) {
      await page.fill('#signin-login', login);
      await page.fill('#signin-password', password);
      await page.click('#signin-form button[type=submit]');
      await page.waitForSelector('#conn-status[data-state=open]', { timeout: 60_000 });
    },

    /** Opens a conversation by clicking its list item (matched by title). */
    async openConversation(page, title) {
      const item = page.locator('.conv-item', { has: page.locator('.name', { hasText: title }) }).first();
      await item.waitFor({ timeout: 10_000 });
      await item.click();
      await page.waitForSelector('#conversation-view:not([hidden])');
      await page.waitForFunction((t) => document.querySelector('#conv-title')?.textContent === t, title, { timeout: 10_000 });
    },

    async sendText(page, text) {
      await page.fill('#composer-input', text);
      await page.press('#composer-input', 'Enter');
    },

    /** How many message bubbles show exactly this text. */
    async countText(page, text) {
      return page.evaluate((t) => [...document.querySelectorAll('#message-log .msg[data-id] .text')].filter((e) => e.textContent === t).length, text);
    },

    async waitText(page, text, { timeoutMs = 20_000 } = {}) {
      await eventually(async () => (await ctx.countText(page, text)) >= 1, { timeoutMs, message: `${page._label} to show "${text}"` });
    },

    /** Lets late console errors (a push that arrives after the last step) surface before judging. */
    async settle() {
      await sleep(300);
    },

    async failureShots() {
      for (const page of pages) {
        if (!page.isClosed()) await page.screenshot({ path: shotPath(`FAILED-${slug}-${page._label}-${++shotSeq}`) }).catch(() => {});
      }
    },

    async close() {
      for (const c of contexts) {
        await c.close().catch(() => {});
      }
    },
  };
  return ctx;
}

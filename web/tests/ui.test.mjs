// The web app in headless Chromium against today's server: two people (two browser contexts)
// chatting, offline and back, edits, history paging, groups and rooms, settings, small screens,
// keyboard and accessibility, first-load time.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { assert, assertEqual, eventually, sleep, uniqueName } from './context.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's WCAG 2 A/AA rules on the page as it is; returns the violations. */
async function axe(page) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
}

async function assertAccessible(page, where) {
  const violations = await axe(page);
  assert(violations.length === 0, `accessibility violations on ${where}:\n${JSON.stringify(violations, null, 2)}`);
}

/** Two people, signed up through the UI, with a direct conversation opened by A. */
async function twoPeople(T, { shots = false } = {}) {
  const pa = await T.newPage('A');
  const pb = await T.newPage('B');
  const a = await T.signUp(pa, 'ada', 'Ada Lovelace');
  const b = await T.signUp(pb, 'bob', 'Bob Babbage');
  await pa.click('#new-direct-btn');
  await pa.fill('dialog input[type=search]', b.username);
  const pick = pa.locator('dialog .results button', { hasText: 'Bob Babbage' });
  await pick.waitFor();
  if (shots) await T.shot(pa, '03-new-chat-dialog');
  await pick.click();
  await pa.waitForFunction(() => document.querySelector('#conv-title')?.textContent === 'Bob Babbage');
  return { pa, pb, a, b };
}

export default [
  {
    name: 'ui: sign up, sign out, a wrong password, sign in',
    async run(T) {
      const page = await T.newPage('A');
      await T.shot(page, '01-sign-in');
      await assertAccessible(page, 'the sign-in screen');
      await page.click('#tab-signup');
      await assertAccessible(page, 'the sign-up form');
      // Client-side validation first: nothing is sent.
      await page.fill('#signup-username', 'x');
      await page.click('#signup-form button[type=submit]');
      await page.waitForFunction(() => /3–32/.test(document.querySelector('#signup-error').textContent));
      await T.shot(page, '02-sign-up-validation');
      await page.reload();
      await page.waitForSelector('html[data-ready]');
      const a = await T.signUp(page, 'ann', 'Ann');
      assertEqual(await page.textContent('#me-name'), 'Ann', 'display name shown');
      await page.click('#settings-link');
      await page.click('#logout-btn');
      await page.waitForSelector('#auth-view:not([hidden])');
      const stored = await page.evaluate(() => localStorage.getItem('chat:session'));
      assertEqual(stored, null, 'the session is gone from storage');
      T.expectConsole(page, /status of 401/);
      await page.fill('#signin-login', a.username);
      await page.fill('#signin-password', 'not-the-password');
      await page.click('#signin-form button[type=submit]');
      await page.waitForFunction(() => /Wrong username/.test(document.querySelector('#signin-error').textContent));
      await T.signIn(page, a.username.toUpperCase(), a.password); // usernames are case-insensitive
      // A reload keeps the session (stored) and reconnects.
      await page.reload();
      await page.waitForSelector('#conn-status[data-state=open]');
      assertEqual(await page.textContent('#me-name'), 'Ann', 'still signed in after a reload');
    },
  },
  {
    name: 'ui: two people chat: presence, typing, ticks, unread badges, offline and back',
    timeoutMs: 300_000,
    async run(T) {
      const { pa, pb, a, b } = await twoPeople(T, { shots: true });
      await T.sendText(pa, 'Hello Bob!');
      await T.waitText(pa, 'Hello Bob!');
      // B: the conversation appears with an unread badge and A online.
      const itemB = pb.locator('.conv-item', { has: pb.locator('.name', { hasText: 'Ada Lovelace' }) });
      await itemB.waitFor();
      await pb.waitForFunction(() => document.querySelector('.conv-item .badge')?.textContent === '1');
      await pb.waitForFunction(() => document.querySelector('.conv-item .avatar .dot.online'));
      assert(/online/.test(await itemB.textContent()), 'the list item says online (to screen readers)');
      assert(/1 unread/.test(await itemB.textContent()), 'the list item says 1 unread (to screen readers)');
      assertEqual(await pb.textContent('.conv-item .preview'), 'Hello Bob!', 'last message in the list');
      await T.shot(pb, '04-list-unread-badge');
      // A sees B online in the header.
      await pa.waitForFunction(() => document.querySelector('#conv-sub')?.textContent === 'online');
      // B opens it: the badge goes, A's tick turns to read.
      await T.openConversation(pb, 'Ada Lovelace');
      await T.waitText(pb, 'Hello Bob!');
      await pb.waitForFunction(() => !document.querySelector('.conv-item .badge'));
      await pa.waitForSelector('#message-log .msg.mine .ticks[data-status=read]', { timeout: 10_000 });
      await pb.waitForFunction(() => document.querySelector('#conv-sub')?.textContent === 'online');
      // B types: A sees it, then B sends and the indicator goes.
      await pb.type('#composer-input', 'Hi Ada, how', { delay: 30 });
      await pa.waitForFunction(() => /Bob Babbage is typing/.test(document.querySelector('#typing-line').textContent));
      await pa.waitForFunction(() => document.querySelector('.conv-item .preview.typing'));
      await T.shot(pa, '05-conversation-typing');
      await pb.type('#composer-input', ' are you?');
      await pb.press('#composer-input', 'Enter');
      await T.waitText(pa, 'Hi Ada, how are you?');
      await pa.waitForFunction(() => document.querySelector('#typing-line').textContent === '');
      await pb.waitForSelector('#message-log .msg.mine .ticks[data-status=read]');
      await T.shot(pb, '06-conversation-read-ticks');

      // B goes offline; A sends three; B comes back and shows each exactly once, in order.
      await pb.context().setOffline(true);
      await pb.waitForSelector('#conn-status[data-state=offline]');
      await pb.waitForSelector('#conn-banner:not([hidden])');
      for (const n of [1, 2, 3]) {
        await T.sendText(pa, `While you were away ${n}`);
        await T.waitText(pa, `While you were away ${n}`);
      }
      await pa.waitForFunction(() => document.querySelectorAll('#message-log .msg.mine .ticks[data-status=sent], #message-log .msg.mine .ticks[data-status=delivered], #message-log .msg.mine .ticks[data-status=read]').length >= 4);
      await sleep(500);
      assertEqual(await T.countText(pb, 'While you were away 1'), 0, 'nothing reaches an offline page');
      await T.shot(pb, '07-offline-banner');
      await pb.context().setOffline(false);
      await pb.waitForSelector('#conn-status[data-state=open]', { timeout: 10_000 });
      for (const n of [1, 2, 3]) await T.waitText(pb, `While you were away ${n}`);
      await sleep(1500); // give duplicates (live + sync + history) every chance to show
      const texts = await pb.evaluate(() => [...document.querySelectorAll('#message-log .msg[data-id] .text')].map((e) => e.textContent));
      for (const n of [1, 2, 3]) assertEqual(texts.filter((t) => t === `While you were away ${n}`).length, 1, `message ${n} shown once`);
      const order = texts.filter((t) => t.startsWith('While you were away'));
      assertEqual(order, ['While you were away 1', 'While you were away 2', 'While you were away 3'], 'in order');
      const ids = await pb.evaluate(() => [...document.querySelectorAll('#message-log .msg[data-id]')].map((e) => e.dataset.id));
      assertEqual(new Set(ids).size, ids.length, 'no message element twice');
      await pa.waitForSelector('#message-log .msg.mine:last-of-type .ticks[data-status=read]', { timeout: 10_000 });

      // Now the sender is offline: its messages wait in the outbox (clock), then go once.
      await pa.context().setOffline(true);
      await pa.waitForSelector('#conn-status[data-state=offline]');
      await T.sendText(pa, 'Queued one');
      await T.sendText(pa, 'Queued two');
      await pa.waitForFunction(() => document.querySelectorAll('#message-log .msg.pending .ticks[data-status=pending]').length === 2);
      await T.shot(pa, '08-outbox-pending');
      const stored = await pa.evaluate((id) => JSON.parse(localStorage.getItem(`chat:outbox:${id}`) || '[]').length, a.id);
      assertEqual(stored, 2, 'the outbox is kept in storage (survives a reload)');
      await pa.context().setOffline(false);
      await pa.waitForFunction(() => document.querySelectorAll('#message-log .msg.pending').length === 0, null, { timeout: 15_000 });
      await T.waitText(pb, 'Queued one');
      await T.waitText(pb, 'Queued two');
      await sleep(1000);
      assertEqual([await T.countText(pb, 'Queued one'), await T.countText(pb, 'Queued two')], [1, 1], 'each queued message once');
      assertEqual([await T.countText(pa, 'Queued one'), await T.countText(pa, 'Queued two')], [1, 1], 'and once on the sender');
      const history = await T.api(await pa.evaluate(() => window.chatApp.client.session.accessToken), 'GET', `/conversations/${encodeURIComponent(await pa.evaluate(() => window.chatApp.state.current))}/messages?limit=100`);
      const queued = history.messages.filter((m) => m.content?.startsWith('Queued'));
      assertEqual(queued.length, 2, 'two stored, not more');
      assert(queued[0].id > queued[1].id && queued[1].content === 'Queued one', 'stored in the order typed');
      await T.shot(pa, '09-conversation');
      assert(b.id && a.id, 'ids');
    },
  },
  {
    name: 'ui: edit and delete own messages',
    async run(T) {
      const { pa, pb } = await twoPeople(T);
      await T.sendText(pa, 'Tpyo here');
      await T.sendText(pa, 'Delete me');
      await T.openConversation(pb, 'Ada Lovelace');
      await T.waitText(pb, 'Delete me');
      // Keyboard: focus the message's Edit button, Enter, type, Enter.
      const mine = pa.locator('#message-log .msg.mine', { hasText: 'Tpyo here' });
      await mine.locator('button[aria-label="Edit message"]').focus();
      await pa.keyboard.press('Enter');
      await pa.waitForSelector('.edit-form textarea');
      await pa.fill('.edit-form textarea', 'Typo fixed');
      await pa.press('.edit-form textarea', 'Enter');
      await T.waitText(pa, 'Typo fixed');
      await T.waitText(pb, 'Typo fixed');
      await pb.waitForFunction(() => [...document.querySelectorAll('#message-log .msg')].some((m) => m.textContent.includes('Typo fixed') && m.querySelector('.edited')));
      assertEqual(await T.countText(pb, 'Tpyo here'), 0, 'the old text is gone');
      // Delete, through the confirmation dialog.
      await pa.locator('#message-log .msg.mine', { hasText: 'Delete me' }).locator('button[aria-label="Delete message"]').click();
      await pa.waitForSelector('dialog[open]');
      await T.shot(pa, '10-delete-confirm');
      await pa.click('dialog .btn.primary');
      await T.waitText(pa, 'Message deleted');
      await T.waitText(pb, 'Message deleted');
      assertEqual(await T.countText(pb, 'Delete me'), 0, 'deleted for the other side too');
      // Others' messages have no edit/delete buttons.
      assertEqual(await pb.locator('#message-log .msg.theirs button[aria-label="Edit message"]').count(), 0, 'no edit on others\' messages');
    },
  },
  {
    name: 'ui: history scrolls back through every page (before=)',
    timeoutMs: 240_000,
    async run(T) {
      const reader = await T.apiUser('cara', 'Cara');
      const writer = await T.apiUser('dan', 'Dan');
      const conv = await T.api(writer.accessToken, 'POST', '/conversations', { type: 'direct', userId: reader.user.id });
      const N = 110;
      for (let i = 1; i <= N; i++) {
        await T.api(writer.accessToken, 'POST', `/conversations/${conv.id}/messages`, { content: `Old message ${i}`, clientMsgId: `seed-${i}` });
      }
      // The reader has had these on another device (its delivered and read pointers are past
      // them), so the catch-up brings nothing and the app must page back through history.
      const newest = await T.api(reader.accessToken, 'GET', `/conversations/${conv.id}/messages?limit=1`);
      await T.api(reader.accessToken, 'POST', `/conversations/${conv.id}/read`, { messageId: newest.messages[0].id });
      const page = await T.newPage('C');
      await T.signIn(page, reader.username, reader.password);
      await page.waitForSelector('.conv-item');
      assertEqual(await page.locator('.conv-item .badge').count(), 0, 'read elsewhere: no badge');
      await T.openConversation(page, 'Dan');
      await T.waitText(page, `Old message ${N}`);
      const first = await page.locator('#message-log .msg[data-id]').count();
      assert(first <= 60, `the first page is one page (${first})`);
      await T.shot(page, '11-history-newest');
      await eventually(
        async () => {
          await page.evaluate(() => (document.querySelector('#message-pane').scrollTop = 0));
          return (await T.countText(page, 'Old message 1')) === 1;
        },
        { timeoutMs: 30_000, intervalMs: 300, message: 'scrolling back to the first message' },
      );
      const texts = await page.evaluate(() => [...document.querySelectorAll('#message-log .msg[data-id] .text')].map((e) => e.textContent));
      assertEqual(texts.length, N, 'every message once');
      assertEqual(texts, Array.from({ length: N }, (_, i) => `Old message ${i + 1}`), 'oldest first, no gaps');
      assertEqual(await page.locator('#message-log .loading').count(), 0, 'no more to load');
      await T.shot(page, '12-history-oldest');
    },
  },
  {
    name: 'ui: groups and rooms: create, add, members, join, leave',
    timeoutMs: 240_000,
    async run(T) {
      const { pa, pb, b } = await twoPeople(T);
      const carol = await T.apiUser('carol', 'Carol');
      // A makes a group with B.
      await pa.click('#new-group-btn');
      await pa.fill('dialog input[type=text]', 'Engine team');
      await pa.fill('dialog input[type=search]', b.username);
      await pa.locator('dialog .results button', { hasText: 'Bob Babbage' }).click();
      await pa.waitForSelector('dialog .chips .chip');
      assertEqual(await pa.locator('dialog .results button.pick').count(), 0, 'the pick leaves the results');
      await T.shot(pa, '13-new-group-dialog');
      await pa.click('dialog button[type=submit]');
      await pa.waitForFunction(() => document.querySelector('#conv-title')?.textContent === 'Engine team');
      await T.sendText(pa, 'Welcome to the team');
      // B: the group shows up (first message), with the sender's name on the bubble.
      await T.openConversation(pb, 'Engine team');
      await T.waitText(pb, 'Welcome to the team');
      assertEqual(await pb.textContent('#message-log .msg.theirs .sender'), 'Ada Lovelace', 'sender named in groups');
      // A adds Carol from the members dialog.
      await pa.click('#members-btn');
      await pa.waitForSelector('dialog .member-row');
      await pa.fill('dialog input[type=search]', carol.username);
      await pa.locator('dialog .results button', { hasText: 'Carol' }).click();
      await pa.waitForFunction(() => document.querySelectorAll('dialog .member-row').length === 3);
      await T.shot(pa, '14-members-dialog');
      await pa.keyboard.press('Escape');
      // B leaves the group: it disappears from B's list, and A sees two members.
      await pb.click('#members-btn');
      await pb.locator('dialog button', { hasText: 'Leave group' }).click();
      await pb.waitForFunction(() => ![...document.querySelectorAll('.conv-item .name')].some((n) => n.textContent === 'Engine team'));
      await pa.click('#members-btn');
      await pa.waitForFunction(() => document.querySelectorAll('dialog .member-row').length === 2);
      await pa.keyboard.press('Escape');

      // A makes a public room; B joins it by id; both talk; B leaves.
      await pa.click('#new-room-btn');
      await pa.fill('dialog input[type=text]', 'Lobby');
      await pa.click('dialog button[type=submit]');
      await pa.waitForFunction(() => document.querySelector('#conv-title')?.textContent === 'Lobby');
      await pa.click('#members-btn');
      const roomId = await pa.textContent('#room-id');
      assert(/^r-/.test(roomId), `a room id (${roomId})`);
      await pa.keyboard.press('Escape');
      await pb.click('#join-room-btn');
      await pb.fill('#join-room-id', roomId);
      await T.shot(pb, '15-join-room-dialog');
      await pb.press('#join-room-id', 'Enter');
      await pb.waitForFunction(() => document.querySelector('#conv-title')?.textContent === 'Lobby');
      await T.sendText(pb, 'Hello room');
      await T.openConversation(pa, 'Lobby');
      await T.waitText(pa, 'Hello room');
      await pa.waitForFunction(() => /Room · 2 members/.test(document.querySelector('#conv-sub').textContent));
      await T.shot(pa, '16-room');
      // Joining a room id that does not exist says so.
      T.expectConsole(pb, /status of 404/);
      await pb.click('#join-room-btn');
      await pb.fill('#join-room-id', 'r-01AAAAAAAAAAAAAAAAAAAAAAAA');
      await pb.press('#join-room-id', 'Enter');
      await pb.waitForFunction(() => /No room/.test(document.querySelector('dialog .error-text')?.textContent || ''));
      await pb.keyboard.press('Escape');
      await pb.click('#members-btn');
      await pb.locator('dialog button', { hasText: 'Leave room' }).click();
      await pb.waitForFunction(() => ![...document.querySelectorAll('.conv-item .name')].some((n) => n.textContent === 'Lobby'));
    },
  },
  {
    name: 'ui: settings: display name, connection facts; no devices or mute notice from a server that serves them',
    async run(T) {
      const page = await T.newPage('A');
      await T.signUp(page, 'sue', 'Sue');
      await page.click('#settings-link');
      await page.waitForSelector('#settings-view:not([hidden])');
      await page.fill('#profile-name', 'Sue Storm');
      await page.press('#profile-name', 'Enter');
      await page.waitForFunction(() => document.querySelector('#profile-msg').textContent === 'Saved.');
      assertEqual(await page.textContent('#me-name'), 'Sue Storm', 'the sidebar follows');
      const me = await page.evaluate(() => window.chatApp.client.me());
      assertEqual(me.displayName, 'Sue Storm', 'stored on the server');
      assertEqual(await page.textContent('#conn-state-fact'), 'Online', 'connection state');
      // This server serves devices, mute and matching: the page never says otherwise, neither
      // before it has asked (right after the socket opened) nor after.
      assertEqual(await page.isVisible('#devices-notice'), false, 'no devices notice while asking');
      assertEqual(await page.isVisible('#mute-notice'), false, 'no mute notice while asking');
      await page.waitForFunction(() => window.chatApp.client._capabilities, null, { timeout: 15_000 });
      const caps = await page.evaluate(() => window.chatApp.state.caps);
      assert(caps.devices && caps.mute && caps.match, `the server's features are seen: ${JSON.stringify(caps)}`);
      assertEqual(await page.isVisible('#devices-notice'), false, 'devices notice iff not served');
      assertEqual(await page.isVisible('#mute-notice'), false, 'mute notice iff not served');
      assertEqual(await page.getAttribute('#match-btn', 'aria-disabled'), null, 'matching offered');
      await T.shot(page, '17-settings');
      await assertAccessible(page, 'settings');
    },
  },
  {
    name: 'ui: small screens show one pane at a time',
    async run(T) {
      const { pa, pb } = await twoPeople(T);
      await T.sendText(pa, 'On the go');
      const phone = { width: 390, height: 844 };
      await pb.setViewportSize(phone);
      await pb.waitForFunction(() => document.querySelector('.conv-item .name')?.textContent === 'Ada Lovelace');
      assert(await pb.isVisible('#sidebar'), 'list visible');
      assert(!(await pb.isVisible('#conversation-view')), 'no conversation pane yet');
      await T.shot(pb, '18-phone-list');
      await T.openConversation(pb, 'Ada Lovelace');
      await T.waitText(pb, 'On the go');
      await pb.waitForFunction(() => !document.querySelector('#message-log .loading'));
      assert(!(await pb.isVisible('#sidebar')), 'the list hides');
      assert(await pb.isVisible('#back-btn'), 'a back button');
      const overflow = await pb.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      assert(!overflow, 'no horizontal overflow');
      await T.shot(pb, '19-phone-conversation');
      await pb.click('#back-btn');
      await pb.waitForSelector('#sidebar:not([hidden])');
      assert(await pb.isVisible('#sidebar'), 'back to the list');
    },
  },
  {
    name: 'ui: keyboard only, and axe-core finds no WCAG A/AA violation in the main screens',
    async run(T) {
      const { pa, pb } = await twoPeople(T);
      await T.sendText(pa, 'Keyboard test');
      await pb.waitForSelector('.conv-item');
      // B reaches the conversation with Tab and Enter only, and answers with Enter.
      await pb.evaluate(() => document.activeElement?.blur());
      let found = false;
      for (let i = 0; i < 15 && !found; i++) {
        await pb.keyboard.press('Tab');
        found = await pb.evaluate(() => document.activeElement?.classList.contains('conv-item'));
      }
      assert(found, 'a conversation is reachable with Tab');
      await pb.keyboard.press('Enter');
      await pb.waitForSelector('#conversation-view:not([hidden])');
      await pb.waitForFunction(() => document.activeElement?.id === 'composer-input');
      await pb.keyboard.type('Typed without a mouse');
      await pb.keyboard.press('Enter');
      await T.waitText(pa, 'Typed without a mouse');
      await assertAccessible(pb, 'a conversation');
      await assertAccessible(pa, 'a conversation (sender side)');
      await pa.click('#new-direct-btn');
      await pa.waitForSelector('dialog[open]');
      await assertAccessible(pa, 'the new-chat dialog');
      await pa.keyboard.press('Escape');
      assert(!(await pa.isVisible('dialog[open]')), 'Escape closes dialogs');
    },
  },
  {
    name: 'ui: the API answers CORS for a page on another origin',
    async run(T) {
      // The app is served from its own port: every call it made above was cross-origin. Check
      // the preflight answers directly too, for each method and header the library uses.
      const origin = T.site.url;
      for (const method of ['GET', 'POST', 'PATCH', 'DELETE']) {
        const r = await fetch(`${T.backend.httpUrl}/conversations`, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization,content-type' },
        });
        assert(r.status >= 200 && r.status < 300, `preflight ${method}: ${r.status}`);
        const allowOrigin = r.headers.get('access-control-allow-origin');
        assert(allowOrigin === '*' || allowOrigin === origin, `allow-origin for ${method}: ${allowOrigin}`);
        assert(new RegExp(method).test(r.headers.get('access-control-allow-methods') || ''), `allow-methods has ${method}`);
        const headers = (r.headers.get('access-control-allow-headers') || '').toLowerCase();
        assert(headers.includes('authorization') && headers.includes('content-type'), `allow-headers: ${headers}`);
      }
      const page = await T.newPage('A');
      await T.signUp(page, 'cors');
      T.expectConsole(page, /status of 40[34]/);
      const result = await page.evaluate(async () => {
        const c = window.chatApp.client;
        const u = await c.updateMe({ displayName: 'Cross Origin' });
        let status;
        try {
          await c.api('DELETE', '/conversations/g-01AAAAAAAAAAAAAAAAAAAAAAAA/members/x');
        } catch (e) {
          status = e.status;
        }
        return { name: u.displayName, status, origin: location.origin, api: c.httpUrl };
      });
      assert(result.origin !== result.api, 'really cross-origin');
      assertEqual(result.name, 'Cross Origin', 'PATCH with a bearer token across origins');
      assert(result.status === 404 || result.status === 403, `an error body is readable across origins (${result.status})`);
      const exposed = (await fetch(`${T.backend.httpUrl}/health`, { headers: { origin } })).headers.get('access-control-expose-headers');
      T.figures.corsExposeHeaders = exposed || 'none (Retry-After is not readable cross-origin; the JSON body carries retryAfter)';
    },
  },
  {
    name: 'ui: first load time (navigation timing, median of 5 cold loads)',
    async run(T) {
      const samples = [];
      for (let i = 0; i < 5; i++) {
        const page = await T.newPage(`load${i}`, { url: null });
        await page.goto(T.site.url + '/');
        await page.waitForSelector('html[data-ready]');
        samples.push(
          await page.evaluate(() => {
            const n = performance.getEntriesByType('navigation')[0];
            const ready = performance.getEntriesByName('app-ready')[0];
            const bytes = performance.getEntriesByType('resource').reduce((s, r) => s + (r.transferSize || 0), n.transferSize || 0);
            return { domContentLoaded: n.domContentLoadedEventEnd, load: n.loadEventEnd, appReady: ready?.startTime, bytes };
          }),
        );
        await page.context().close();
      }
      const median = (k) => samples.map((s) => s[k]).sort((x, y) => x - y)[2];
      T.figures.firstLoadMs = {
        domContentLoaded: Math.round(median('domContentLoaded')),
        load: Math.round(median('load')),
        appReady: Math.round(median('appReady')),
        transferredBytes: median('bytes'),
      };
      assert(median('load') < 3000, `loads in under 3 s locally (${median('load')} ms)`);
    },
  },
];

export { uniqueName };

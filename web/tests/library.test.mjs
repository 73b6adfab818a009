// chat-client.js itself, driven inside a real page (same origin as the app, so cross-origin to
// the API) against today's server: tokens, reconnects, the outbox, sync, typing, receipts,
// presence. Each test makes its clients in the page (window.T) with a storage key of its own.
import { assert, assertEqual, eventually, sleep } from './context.mjs';

/** A page on the app's origin with the library loaded and `window.T.make(name, options)`. */
async function libPage(T, label = 'lib') {
  const page = await T.newPage(label, { url: T.site.blank });
  await page.evaluate(async ({ httpUrl, wsUrl }) => {
    const lib = await import('/chat-client.js');
    const clients = {};
    const frames = {};
    const events = {};
    window.T = {
      lib,
      clients,
      frames,
      events,
      /** A client whose outgoing frames and received events are recorded. */
      make(name, options = {}) {
        const WS = window.WebSocket;
        frames[name] = [];
        events[name] = [];
        class RecordingSocket extends WS {
          send(data) {
            frames[name].push(JSON.parse(data));
            return super.send(data);
          }
        }
        const c = new lib.ChatClient({ httpUrl, wsUrl, storageKey: `t-${name}`, WebSocket: RecordingSocket, ...options });
        c.on('*', ({ type, event }) => events[name].push({ type, ...(event && typeof event === 'object' && !event.call ? event : {}), at: Date.now() }));
        clients[name] = c;
        return c;
      },
      waitFor(name, predicate, timeoutMs = 10000) {
        return new Promise((resolve, reject) => {
          const c = clients[name];
          const found = events[name].find(predicate);
          if (found) return resolve(found);
          const timer = setTimeout(() => (off(), reject(new Error(`timeout waiting on ${name}`))), timeoutMs);
          const off = c.on('*', ({ type, event }) => {
            const e = { type, ...(event && typeof event === 'object' ? event : {}), at: Date.now() };
            if (predicate(e)) {
              clearTimeout(timer);
              off();
              resolve(e);
            }
          });
        });
      },
      open(name) {
        const c = clients[name];
        if (c.state === 'open') return Promise.resolve();
        return new Promise((resolve) => {
          const off = c.on('state', (e) => e.state === 'open' && (off(), resolve()));
          c.connect();
        });
      },
    };
  }, { httpUrl: T.backend.httpUrl, wsUrl: T.backend.wsUrl });
  return page;
}

/** Two API users with a direct conversation; returns their credentials and the conversation id. */
async function pair(T) {
  const x = await T.apiUser('lx');
  const y = await T.apiUser('ly');
  const conv = await T.api(x.accessToken, 'POST', '/conversations', { type: 'direct', userId: y.user.id });
  return { x, y, conv: conv.id };
}

export default [
  {
    name: 'library: refresh before expiry, after a 401, across tabs without reuse; logout revokes',
    async run(T) {
      const page = await libPage(T);
      const u = await T.apiUser('tok');
      T.expectConsole(page, /status of 401/);
      const r = await page.evaluate(async ({ login, password }) => {
        const a = T.make('a');
        await a.login({ login, password });
        const first = { ...a.session };
        // Before expiry: pretend the token has 3 s left; the timer refreshes it at ~1.5 s.
        a.session.expiresAt = Date.now() + 3000;
        a._scheduleRefresh();
        await new Promise((r) => setTimeout(r, 2500));
        const second = { ...a.session };
        // After a 401: a broken access token is refreshed once and the call retried.
        a.session.accessToken = 'not-a-token';
        const me = await a.me();
        const third = { ...a.session };
        // Another tab (same storage) that still holds the rotated pair adopts the new one
        // instead of reusing its refresh token (which would revoke the whole family).
        const b = new T.lib.ChatClient({ httpUrl: a.httpUrl, wsUrl: a.wsUrl, storageKey: 't-a' });
        b.session = { ...second, expiresAt: Date.now() + 10_000 };
        await b.refresh();
        const adopted = b.session.refreshToken === third.refreshToken;
        await a.refresh(); // the family is still alive
        const stillAlive = Boolean(a.session.accessToken);
        // Logout revokes the refresh token.
        const last = a.session.refreshToken;
        await a.logout();
        const reuse = await fetch(a.httpUrl + '/auth/refresh', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: last }) });
        b.destroy();
        return {
          rotatedOnTimer: second.refreshToken !== first.refreshToken && second.accessToken !== first.accessToken,
          refreshedAfter401: third.refreshToken !== second.refreshToken && me.username === login,
          adopted,
          stillAlive,
          afterLogout: reuse.status,
          stored: localStorage.getItem('t-a:session'),
        };
      }, { login: u.username, password: u.password });
      assert(r.rotatedOnTimer, 'refreshed by the timer before expiry');
      assert(r.refreshedAfter401, 'refreshed and retried after a 401');
      assert(r.adopted, 'the second tab adopted the rotated pair');
      assert(r.stillAlive, 'no family revocation');
      assertEqual(r.afterLogout, 401, 'the refresh token is revoked by logout');
      assertEqual(r.stored, null, 'storage cleared');
    },
  },
  {
    name: 'library: outbox resends with the same clientMsgId after a drop, and one message is stored',
    async run(T) {
      const page = await libPage(T);
      const { x, y, conv } = await pair(T);
      const r = await page.evaluate(async ({ x, conv }) => {
        const a = T.make('a');
        a.session = null;
        a._setSession(x);
        await T.open('a');
        // Drop the socket right after the send frame leaves, before message.sent can come back.
        const ws = a._ws;
        const send = ws.send.bind(ws);
        ws.send = (data) => {
          send(data);
          if (JSON.parse(data).action === 'send') a.reconnectNow();
        };
        const message = await a.send({ conversationId: conv, content: 'survives a drop' });
        const sends = T.frames.a.filter((f) => f.action === 'send');
        return { message, sends, pending: a.pending().length, stored: localStorage.getItem(`t-a:outbox:${x.user.id}`) };
      }, { x, conv });
      assert(r.sends.length >= 2, `sent at least twice (${r.sends.length})`);
      assertEqual(new Set(r.sends.map((f) => f.clientMsgId)).size, 1, 'with one clientMsgId');
      assertEqual(r.message.clientMsgId, r.sends[0].clientMsgId, 'the answer is that message');
      assertEqual([r.pending, r.stored], [0, null], 'the outbox is empty');
      const history = await T.api(y.accessToken, 'GET', `/conversations/${conv}/messages`);
      assertEqual(history.messages.filter((m) => m.content === 'survives a drop').length, 1, 'stored once');
    },
  },
  {
    name: 'library: sync catches up every page after a reconnect, and dedupes',
    async run(T) {
      const page = await libPage(T);
      const { x, y, conv } = await pair(T);
      await page.evaluate(async ({ y }) => {
        const b = T.make('b', { syncPageSize: 5 });
        b._setSession(y);
        await T.open('b');
        await T.waitFor('b', (e) => e.type === 'synced');
        b.disconnect();
      }, { y });
      for (let i = 1; i <= 12; i++) await T.api(x.accessToken, 'POST', `/conversations/${conv}/messages`, { content: `missed ${i}`, clientMsgId: `m-${i}` });
      const r = await page.evaluate(async ({ conv }) => {
        const b = T.clients.b;
        const before = T.events.b.filter((e) => e.type === 'synced').length;
        b.connect();
        await T.waitFor('b', (e) => e.type === 'synced' && T.events.b.filter((x) => x.type === 'synced').length > before);
        const first = b.messages(conv).map((m) => m.content);
        const syncFrames = T.frames.b.filter((f) => f.action === 'sync');
        // A second reconnect goes from the watermark (since), overlapping a little: no duplicates.
        b.reconnectNow();
        await T.waitFor('b', (e) => e.type === 'synced' && T.events.b.filter((x) => x.type === 'synced').length > before + 1);
        const again = b.messages(conv).map((m) => m.content);
        const newEvents = T.events.b.filter((e) => e.type === 'message' && e.message?.content?.startsWith('missed')).length;
        return { first, again, syncFrames, lastSync: T.frames.b.filter((f) => f.action === 'sync').at(-1), newEvents };
      }, { conv });
      assertEqual(r.first, Array.from({ length: 12 }, (_, i) => `missed ${i + 1}`), 'all twelve, in order');
      const pages = r.syncFrames.length - 1; // the first frame was the first connect's
      assert(pages >= 3, `paged through with cursor (${pages} sync frames for 12 messages at 5 a page)`);
      assert(r.syncFrames.slice(2).every((f) => f.cursor), 'later pages carry the cursor');
      assert(r.lastSync.since, 'after a catch-up, a reconnect syncs from the watermark');
      assertEqual(r.again, r.first, 'nothing twice after the second catch-up');
      assertEqual(r.newEvents, 12, 'one message event per message');
    },
  },
  {
    name: 'library: ping keep-alive; a missing pong reconnects; backoff waits, online resumes at once',
    async run(T) {
      const page = await libPage(T);
      const { x } = await pair(T);
      const r = await page.evaluate(async ({ x }) => {
        const a = T.make('a', { pingIntervalMs: 300, pongTimeoutMs: 400, backoff: { baseMs: 400, maxMs: 2000 } });
        a._setSession(x);
        await T.open('a');
        await new Promise((r) => setTimeout(r, 1100));
        const pongs = T.events.a.filter((e) => e.type === 'pong').length;
        // Swallow pings: the pong deadline drops the socket and a new one opens.
        const realSend = a._sendFrame.bind(a);
        a._sendFrame = (f) => (f.action === 'ping' ? true : realSend(f));
        const opened = T.events.a.filter((e) => e.type === 'state' && e.state === 'open').length;
        await T.waitFor('a', (e) => e.type === 'state' && e.state === 'open' && T.events.a.filter((x) => x.type === 'state' && x.state === 'open').length > opened, 5000);
        a._sendFrame = realSend;
        const states = T.events.a.filter((e) => e.type === 'state').map((e) => e.state + (e.delay ? `:${e.delay}` : ''));
        // An unexpected close waits a jittered backoff before reconnecting.
        const t0 = Date.now();
        a._ws.close(4001, 'test');
        await T.waitFor('a', (e) => e.type === 'state' && e.state === 'waiting' && e.at >= t0);
        const waiting = T.events.a.filter((e) => e.type === 'state' && e.state === 'waiting' && e.at >= t0)[0];
        await T.waitFor('a', (e) => e.type === 'state' && e.state === 'open' && e.at >= t0);
        return { pongs, states, delay: waiting.delay, reopenMs: Date.now() - t0 };
      }, { x });
      assert(r.pongs >= 2, `pongs while idle (${r.pongs})`);
      assert(r.states.some((s) => s.startsWith('waiting')), `the pong deadline led to a reconnect (${r.states})`);
      assert(r.delay >= 200 && r.delay <= 400, `first backoff in [base/2, base] (${r.delay})`);
      // Offline: no attempts at all (so no console errors), then online resumes without waiting.
      await page.context().setOffline(true);
      await eventually(() => page.evaluate(() => T.clients.a.state === 'offline'), { message: 'offline state' });
      await sleep(1500);
      const attempts = await page.evaluate(() => T.events.a.filter((e) => e.type === 'state' && e.state === 'connecting' && e.at > Date.now() - 1400).length);
      assertEqual(attempts, 0, 'no connection attempts while offline');
      const t0 = Date.now();
      await page.context().setOffline(false);
      await eventually(() => page.evaluate(() => T.clients.a.state === 'open'), { message: 'open after online' });
      assert(Date.now() - t0 < 2000, `resumed at once on online (${Date.now() - t0} ms)`);
    },
  },
  {
    name: 'library: a tab that becomes visible reconnects at once instead of waiting out its backoff',
    async run(T) {
      const page = await libPage(T);
      const { x } = await pair(T);
      const r = await page.evaluate(async ({ x }) => {
        const a = T.make('a', { backoff: { baseMs: 60_000, maxMs: 60_000 } });
        a._setSession(x);
        await T.open('a');
        const t0 = Date.now();
        a._ws.close(4001, 'test'); // an unexpected close: the next attempt is 30-60 s away
        const waiting = await T.waitFor('a', (e) => e.type === 'state' && e.state === 'waiting' && e.at >= t0);
        // The tab comes back to the foreground (headless pages never hide, so say it happened).
        Object.defineProperty(document, 'visibilityState', { value: 'visible', configurable: true });
        document.dispatchEvent(new Event('visibilitychange'));
        await T.waitFor('a', (e) => e.type === 'state' && e.state === 'open' && e.at >= t0);
        return { delay: waiting.delay, reopenMs: Date.now() - t0 };
      }, { x });
      assert(r.delay >= 30_000, `a long backoff was scheduled (${r.delay} ms)`);
      assert(r.reopenMs < 5_000, `reopened at once when visible (${r.reopenMs} ms)`);
    },
  },
  {
    name: 'library: typing start/stop, renewal under 10 s, lapse of a lost stop',
    timeoutMs: 60_000,
    async run(T) {
      const page = await libPage(T);
      const { x, y, conv } = await pair(T);
      // One message so both are members with the conversation in place.
      await T.api(x.accessToken, 'POST', `/conversations/${conv}/messages`, { content: 'hi', clientMsgId: 'hi' });
      const r = await page.evaluate(async ({ x, y, conv }) => {
        const a = T.make('a', { typingRenewMs: 1000, typingIdleMs: 1500 });
        const b = T.make('b');
        a._setSession(x);
        b._setSession(y);
        await T.open('a');
        await T.open('b');
        a.typing(conv);
        const start = await T.waitFor('b', (e) => e.type === 'typing' && e.state === 'start');
        const typers = b.typers(conv);
        // Keystrokes for 2.5 s: one start per renewal period, not one per keystroke.
        for (let i = 0; i < 10; i++) {
          a.typing(conv);
          await new Promise((r) => setTimeout(r, 250));
        }
        const starts = T.frames.a.filter((f) => f.action === 'typing' && f.state === 'start').length;
        a.stopTyping(conv);
        await T.waitFor('b', (e) => e.type === 'typing' && e.state === 'stop');
        const afterStop = b.typers(conv);
        // A stop that never comes: the start lapses by itself after expiresIn (10 s).
        const t0 = Date.now();
        a.typing(conv);
        await T.waitFor('b', (e) => e.type === 'typing' && e.state === 'start' && e.at >= t0);
        a._sendFrame = () => true; // the stop is lost
        a.destroy();
        await T.waitFor('b', (e) => e.type === 'typers' && e.userIds.length === 0 && e.at > t0 + 1000, 15000);
        return { expiresIn: start.expiresIn, typers, starts, afterStop, lapsedAfterMs: Date.now() - t0, me: x.user.id };
      }, { x, y, conv });
      assertEqual(r.expiresIn, 10, 'the server says 10 s');
      assertEqual(r.typers, [r.me], 'b sees a typing');
      assert(r.starts >= 2 && r.starts <= 5, `renewed, not per keystroke (${r.starts} starts)`);
      assertEqual(r.afterStop, [], 'stop clears it');
      assert(r.lapsedAfterMs >= 9500 && r.lapsedAfterMs < 13000, `a lost stop lapses after ~10 s (${r.lapsedAfterMs} ms)`);
    },
  },
  {
    name: 'library: delivered and read receipts are debounced and move the sender\'s ticks',
    async run(T) {
      const page = await libPage(T);
      const { x, y, conv } = await pair(T);
      const r = await page.evaluate(async ({ x, y, conv }) => {
        const a = T.make('a');
        const b = T.make('b', { receiptDebounceMs: 1500 });
        a._setSession(x);
        b._setSession(y);
        await T.open('a');
        await T.open('b');
        await T.waitFor('b', (e) => e.type === 'synced');
        const sent = await Promise.all([0, 1, 2, 3, 4].map((i) => a.send({ conversationId: conv, content: `r${i}` })));
        await T.waitFor('a', (e) => e.type === 'receipt' && e.status === 'delivered' && e.messageId === sent[4].id);
        const delivered = T.frames.b.filter((f) => f.action === 'delivered');
        const statusAfterDelivered = a.messages(conv).map((m) => m.status);
        for (const m of sent) b.markRead(conv, m.id);
        await T.waitFor('a', (e) => e.type === 'receipt' && e.status === 'read');
        const reads = T.frames.b.filter((f) => f.action === 'read');
        return { delivered, reads, statusAfterDelivered, statusAfterRead: a.messages(conv).map((m) => m.status), last: sent[4].id };
      }, { x, y, conv });
      assert(r.delivered.length <= 2, `delivered debounced (${r.delivered.length} frames for 5 messages)`);
      assertEqual(r.delivered.at(-1).messageId, r.last, 'up to the newest');
      assertEqual(r.statusAfterDelivered, ['delivered', 'delivered', 'delivered', 'delivered', 'delivered'], 'delivered ticks');
      assertEqual(r.reads.length, 1, 'one read frame for five markRead calls');
      assertEqual(r.statusAfterRead, ['read', 'read', 'read', 'read', 'read'], 'read ticks');
    },
  },
  {
    name: 'library: presence on connect and disconnect of a contact',
    async run(T) {
      const page = await libPage(T);
      const { x, y } = await pair(T);
      const r = await page.evaluate(async ({ x, y }) => {
        const a = T.make('a');
        const b = T.make('b');
        a._setSession(x);
        b._setSession(y);
        await T.open('a');
        await T.waitFor('a', (e) => e.type === 'synced');
        const before = a.presence(y.user.id).online;
        await T.open('b');
        const on = await T.waitFor('a', (e) => e.type === 'presence' && e.userId === y.user.id && e.online);
        b.disconnect();
        const off = await T.waitFor('a', (e) => e.type === 'presence' && e.userId === y.user.id && !e.online);
        return { before, on: on.online, off: off.online, lastSeen: off.lastSeen, now: a.presence(y.user.id) };
      }, { x, y });
      assertEqual([r.before, r.on, r.off, r.now.online], [false, true, false, false], 'offline, online, offline');
      assert(r.lastSeen, 'with lastSeen');
    },
  },
  {
    name: 'library: a call between two pages reaches connected with fake media (signals relayed by the test)',
    async run(T) {
      // The WebRTC half of calls, with the server's `call` relay replaced by the test: the
      // server-relayed version is the pending test "pending: a call through the server".
      const pa = await libPage(T, 'callerA');
      const pb = await libPage(T, 'calleeB');
      const relay = { a: pa, b: pb };
      for (const [name, page] of Object.entries(relay)) {
        const other = name === 'a' ? pb : pa;
        await page.exposeBinding('relaySignal', async (_src, signal, data) => {
          await other.evaluate(([s, d]) => window.onSignal(s, d), [signal, data]);
        });
      }
      await pb.evaluate(() => {
        // Signals may overtake one another (as through the server, whose functions run
        // concurrently): keep what comes before the offer.
        const early = [];
        window.onSignal = async (signal, data) => {
          if (!window.call) {
            if (signal !== 'offer') return early.push([signal, data]);
            window.call = new T.lib.CallSession({ peer: 'A', callId: 'c1', direction: 'incoming', offer: data, signal: (s, d) => window.relaySignal(s, d) });
            window.call.on('state', (e) => (window.lastState = e.state));
            for (const [s, d] of early) window.call.handle(s, d);
            await window.call.accept();
          } else await window.call.handle(signal, data);
        };
      });
      await pa.evaluate(async () => {
        window.call = new T.lib.CallSession({ peer: 'B', callId: 'c1', direction: 'outgoing', signal: (s, d) => window.relaySignal(s, d) });
        window.call.on('state', (e) => (window.lastState = e.state));
        window.onSignal = (signal, data) => window.call.handle(signal, data);
        await window.call.start({ video: true });
      });
      for (const page of [pa, pb]) await eventually(() => page.evaluate(() => window.lastState === 'connected'), { timeoutMs: 20_000, message: `${page._label} connected` });
      const media = await pb.evaluate(async () => {
        await new Promise((r) => setTimeout(r, 500));
        return { tracks: window.call.remoteStream?.getTracks().map((t) => t.kind).sort(), local: window.call.localStream.getTracks().length };
      });
      assertEqual(media.tracks, ['audio', 'video'], 'the callee receives audio and video');
      await pa.evaluate(() => window.call.end());
      await eventually(() => pb.evaluate(() => window.lastState === 'ended'), { message: 'the hang-up reaches the callee' });
    },
  },
];

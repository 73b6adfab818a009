// Pure parts of the library, in Node (no browser, no server).
import { backoffDelay, ulidFloor, ulidTime, ulidAt, clockOffsetFromToken, directPeer, ChatClient, ACTIONS, SERVER_EVENTS } from '../lib/chat-client.js';
import { assert, assertEqual } from './context.mjs';

export default [
  {
    name: 'unit: backoff is exponential, capped, and jittered',
    node: true,
    async run() {
      const lo = (a) => backoffDelay(a, { baseMs: 500, maxMs: 30_000 }, () => 0);
      const hi = (a) => backoffDelay(a, { baseMs: 500, maxMs: 30_000 }, () => 1);
      assertEqual([0, 1, 2, 3, 4].map(hi), [500, 1000, 2000, 4000, 8000], 'ceilings double');
      assertEqual([0, 1, 2].map(lo), [250, 500, 1000], 'at least half the ceiling (no tight loop)');
      assertEqual([hi(20), lo(20)], [30_000, 15_000], 'capped at maxMs');
      const samples = new Set(Array.from({ length: 50 }, () => backoffDelay(5)));
      assert(samples.size > 10, 'random jitter spreads clients');
    },
  },
  {
    name: 'unit: ULID time and floor (the sync overlap)',
    node: true,
    async run() {
      const id = '01M8VBKKM94MW9KEJQXKT56GN0';
      const t = ulidTime(id);
      assertEqual(ulidFloor(t), '01M8VBKKM90000000000000000', 'floor keeps the time, zeroes the randomness');
      assert(ulidFloor(t) <= id, 'the floor sorts before every id of its millisecond');
      assertEqual(ulidTime(ulidFloor(t - 10_000)), t - 10_000, 'round trip');
      assertEqual(ulidTime(ulidFloor(0)), 0, 'zero');
    },
  },
  {
    name: 'unit: ULIDs minted for clientMsgIds, and the clock offset from a token',
    node: true,
    async run() {
      const t = 1_800_000_000_123;
      const a = ulidAt(t);
      const b = ulidAt(t);
      assert(/^[0-9A-HJKMNP-TV-Z]{26}$/.test(a), `canonical ULID: ${a}`);
      assertEqual(ulidTime(a), t, 'the time is the one asked for');
      assert(a !== b && a.slice(0, 10) === b.slice(0, 10), 'same time, different randomness');
      const token = (claims) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;
      assertEqual(clockOffsetFromToken(token({ iat: 1000 }), 1_000_700), 0, 'under a second: none');
      assertEqual(clockOffsetFromToken(token({ iat: 1005 }), 1_000_500), 5000, 'server 5 s ahead');
      assertEqual(clockOffsetFromToken(token({ iat: 1000 }), 1_004_500), -4000, 'server 4 s behind');
      assertEqual(clockOffsetFromToken('not a token'), 0, 'garbage: none');
    },
  },
  {
    name: 'unit: direct conversation ids name the peer',
    node: true,
    async run() {
      const a = '01M8VBKKM94MW9KEJQXKT56GN0';
      const b = '01M8VBKKMTA2BT751E962GYCPB';
      assertEqual(directPeer(`dm-${a}-${b}`, a), b, 'peer of a');
      assertEqual(directPeer(`dm-${a}-${b}`, b), a, 'peer of b');
      assertEqual(directPeer(`g-${a}`, a), undefined, 'groups have none');
    },
  },
  {
    name: 'unit: store dedupes by id and merges edits, deletions and status',
    node: true,
    async run() {
      const c = new ChatClient({ httpUrl: 'http://x', wsUrl: 'ws://x', storage: mem(), WebSocket: class {}, fetch: async () => ({}) });
      c.session = { accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 1e6, user: { id: 'ME000000000000000000000000' } };
      const news = [];
      const updates = [];
      c.on('message', (e) => news.push(e.message.id));
      c.on('update', (e) => updates.push(e.message));
      const m = { id: '01M8VBKKM94MW9KEJQXKT56GN0', conversationId: 'g-1', senderId: 'OTHER0000000000000000000000', kind: 'text', content: 'hi', createdAt: '2026-01-01T00:00:00.000Z', deleted: false };
      c._onFrame(JSON.stringify({ type: 'message.new', message: m }));
      c._onFrame(JSON.stringify({ type: 'message.new', message: m }));
      c._ingest(m, 'sync');
      c._ingest(m, 'history');
      assertEqual(news, [m.id], 'one message event for four arrivals');
      assertEqual(c.messages('g-1').length, 1, 'one stored');
      c._onFrame(JSON.stringify({ type: 'message.updated', message: { ...m, content: 'hi!', editedAt: '2026-01-01T00:01:00.000Z' } }));
      c._ingest(m, 'sync'); // a stale copy must not undo the edit
      assertEqual(c.messages('g-1')[0].content, 'hi!', 'edit kept');
      c._onFrame(JSON.stringify({ type: 'message.deleted', message: { ...m, content: null, deleted: true } }));
      c._ingest({ ...m, content: 'hi!', editedAt: '2026-01-01T00:01:00.000Z' }, 'history');
      assertEqual([c.messages('g-1')[0].deleted, c.messages('g-1')[0].content], [true, null], 'deletion wins');
      assertEqual(updates.length, 2, 'two updates (edit, delete)');
      for (const t of c._typers.values()) for (const timer of t.values()) clearTimeout(timer);
      c.destroy();
    },
  },
  {
    name: 'unit: status of own messages follows the other members\' pointers',
    node: true,
    async run() {
      const me = '01M8VBKKM94MW9KEJQXKT56GN0';
      const peer = '01M8VBKKMTA2BT751E962GYCPB';
      const conv = `dm-${me}-${peer}`;
      const c = new ChatClient({ httpUrl: 'http://x', wsUrl: 'ws://x', storage: mem(), WebSocket: class {}, fetch: async () => ({}) });
      c.session = { accessToken: 'a', refreshToken: 'r', expiresAt: Date.now() + 1e6, user: { id: me } };
      const mk = (id) => ({ id, conversationId: conv, senderId: me, kind: 'text', content: id, createdAt: '2026-01-01T00:00:00.000Z', deleted: false });
      c._ingest(mk('01M8VBKKN00000000000000001'), 'sent');
      c._ingest(mk('01M8VBKKN00000000000000002'), 'sent');
      assertEqual(c.messages(conv).map((m) => m.status), ['sent', 'sent'], 'sent');
      c._onFrame(JSON.stringify({ type: 'receipt', conversationId: conv, userId: peer, messageId: '01M8VBKKN00000000000000001', status: 'delivered', at: 'x' }));
      assertEqual(c.messages(conv).map((m) => m.status), ['delivered', 'sent'], 'first delivered');
      c._onFrame(JSON.stringify({ type: 'receipt', conversationId: conv, userId: peer, messageId: '01M8VBKKN00000000000000002', status: 'read', at: 'x' }));
      assertEqual(c.messages(conv).map((m) => m.status), ['read', 'read'], 'both read (read implies delivered)');
      c._onFrame(JSON.stringify({ type: 'receipt', conversationId: conv, userId: peer, messageId: '01M8VBKKN00000000000000001', status: 'delivered', at: 'x' }));
      assertEqual(c.messages(conv).map((m) => m.status), ['read', 'read'], 'pointers never move back');
      c.destroy();
    },
  },
  {
    name: 'unit: the library lists every action and event once',
    node: true,
    async run() {
      assertEqual(new Set(ACTIONS).size, ACTIONS.length, 'actions unique');
      assertEqual(new Set(SERVER_EVENTS).size, SERVER_EVENTS.length, 'events unique');
    },
  },
];

function mem() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, v), removeItem: (k) => m.delete(k) };
}

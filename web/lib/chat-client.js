// chat-client.js: the browser (and Node >= 22) client of the chat backend. One ES module, no
// dependencies. The wire protocol is docs/asyncapi.yaml (WebSocket) and docs/openapi.json (REST);
// web/tests/check-asyncapi.mjs fails when ACTIONS or SERVER_EVENTS below drift from the former.
//
// What it does for an app, so the app only renders:
// - auth: register/login, refresh shortly before expiry and once after a 401 (one refresh at a
//   time across tabs, through the Web Locks API, because a refresh token is single use and a
//   reused one revokes the whole family), logout;
// - one socket with reconnect (exponential backoff with jitter), resumed at once on `online` and
//   when the tab becomes visible, `ping` under API Gateway's 10-minute idle timeout, a pong
//   deadline that detects half-open sockets;
// - an outbox: `send` gets a clientMsgId and is resent with the same id after every reconnect until
//   `message.sent` arrives (the server makes a repeat a no-op), in order, one at a time;
// - a message store deduped by id, fed by live events, `sync` (all pages, after every connect),
//   history pages and send answers; sender-side status from the members' receipt pointers;
// - typing (start renewed under the 10 s expiry, stop after a pause or on send; incoming starts
//   lapse by themselves), debounced delivered/read receipts, presence;
// - attachments, calls (WebRTC signalling over the `call` action), random matching, devices and
//   mute, as the contract describes them (not all served by every deployment: see `capabilities`).

export const VERSION = '0.1.0';

/** Client actions of docs/asyncapi.yaml (the `name` of each publish message). */
export const ACTIONS = Object.freeze([
  'send', 'delivered', 'read', 'typing', 'sync', 'ping', 'join', 'leave', 'call', 'match', 'match.cancel',
]);

/** Server event types of docs/asyncapi.yaml (the `name` of each subscribe message). */
export const SERVER_EVENTS = Object.freeze([
  'message.sent', 'message.new', 'message.updated', 'message.deleted', 'receipt', 'typing', 'presence',
  'sync', 'pong', 'member.joined', 'member.left', 'call', 'match.waiting', 'match.found', 'error',
]);

/**
 * How the access token travels on the WebSocket handshake. 'subprotocol' (`Sec-WebSocket-Protocol:
 * chat, token.<jwt>`, contract §3) keeps it out of URLs and access logs; a browser refuses the
 * socket unless the server selects `chat`, so when a handshake fails while the token is still good
 * (REST accepts it) and no subprotocol handshake has worked yet, the client falls back to
 * `?token=` for its lifetime (a server that predates the subprotocol). 'query' forces the URL form.
 */
export const DEFAULT_TOKEN_TRANSPORT = 'subprotocol';

const PERMANENT_SEND_ERRORS = new Set(['invalid_input', 'forbidden', 'not_found', 'payload_too_large', 'conflict', 'unauthorized']);
const STATUS_RANK = { pending: 0, sent: 1, delivered: 2, read: 3 };
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** An error answered by the server (REST or WebSocket), or a client-side failure. */
export class ChatError extends Error {
  constructor(code, message, { status, retryAfter, requestId } = {}) {
    super(message || code);
    this.name = 'ChatError';
    this.code = code;
    if (status !== undefined) this.status = status;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
    if (requestId !== undefined) this.requestId = requestId;
  }
}

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential, capped, "equal jitter" (half
 * fixed, half random), so a server restart is not met by every client at the same instant and no
 * client retries in a tight loop.
 */
export function backoffDelay(attempt, { baseMs = 500, maxMs = 30000 } = {}, random = Math.random) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Milliseconds of a ULID's timestamp. */
export function ulidTime(id) {
  let ms = 0;
  for (let i = 0; i < 10; i++) ms = ms * 32 + CROCKFORD.indexOf(id[i].toUpperCase());
  return ms;
}

/** The smallest ULID of millisecond `ms` (a `since` that includes everything from that instant). */
export function ulidFloor(ms) {
  let time = '';
  let t = Math.max(0, Math.floor(ms));
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time + '0'.repeat(16);
}

/**
 * A new ULID of millisecond `ms` (random part from the platform's CSPRNG). Sent as a message's
 * clientMsgId it names the message's id, so the server stores and dedupes the message with one
 * write (docs/protocol.md, "clientMsgId").
 */
export function ulidAt(ms) {
  const bytes = new Uint8Array(10);
  globalThis.crypto.getRandomValues(bytes);
  let random = '';
  // 80 bits as 16 base32 characters: 5 bits each.
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      random += CROCKFORD[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  return ulidFloor(ms).slice(0, 10) + random;
}

/**
 * How far the server's clock is ahead of this one (ms), from an access token's `iat` (whole
 * seconds, so ± 0.5 s): 0 when under a second, the token's precision.
 */
export function clockOffsetFromToken(token, receivedAt = Date.now()) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const { iat } = JSON.parse(atob(part + '='.repeat((4 - (part.length % 4)) % 4)));
    if (typeof iat !== 'number') return 0;
    const offset = Math.round(iat * 1000 + 500 - receivedAt);
    return Math.abs(offset) < 1000 ? 0 : offset;
  } catch {
    return 0;
  }
}

function randomId() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
}

/** The other member of a direct conversation (`dm-{a}-{b}`), or undefined. */
export function directPeer(conversationId, me) {
  const m = /^dm-([0-9A-HJKMNP-TV-Z]{26})-([0-9A-HJKMNP-TV-Z]{26})$/.exec(conversationId || '');
  if (!m) return undefined;
  return m[1] === me ? m[2] : m[1];
}

function memoryStorage() {
  const map = new Map();
  return {
    getItem: (k) => (map.has(k) ? map.get(k) : null),
    setItem: (k, v) => void map.set(k, String(v)),
    removeItem: (k) => void map.delete(k),
  };
}

/** A tiny typed event emitter. */
class Emitter {
  #handlers = new Map();
  /** Subscribes; returns the function that unsubscribes. */
  on(type, fn) {
    if (!this.#handlers.has(type)) this.#handlers.set(type, new Set());
    this.#handlers.get(type).add(fn);
    return () => this.off(type, fn);
  }
  off(type, fn) {
    this.#handlers.get(type)?.delete(fn);
  }
  once(type, fn) {
    const off = this.on(type, (e) => {
      off();
      fn(e);
    });
    return off;
  }
  emit(type, event) {
    for (const fn of [...(this.#handlers.get(type) || [])]) {
      try {
        fn(event);
      } catch (err) {
        // A broken handler must not break the client; surface it without stopping the others.
        setTimeout(() => {
          throw err;
        });
      }
    }
    for (const fn of [...(this.#handlers.get('*') || [])]) {
      try {
        fn({ type, event });
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }
}

/** A WebRTC 1:1 call driven by the `call` signals (offer, answer, ice, end). */
export class CallSession extends Emitter {
  /**
   * @param {object} o
   * @param {string} o.peer the other user's id
   * @param {string} o.callId
   * @param {(signal: string, data: unknown) => void} o.signal sends a signal to the peer
   * @param {'outgoing'|'incoming'} o.direction
   * @param {RTCConfiguration} [o.rtcConfig]
   * @param {object} [o.offer] the received offer (incoming calls)
   */
  constructor({ peer, callId, signal, direction, rtcConfig, offer }) {
    super();
    this.peer = peer;
    this.callId = callId;
    this.direction = direction;
    this.state = direction === 'incoming' ? 'ringing' : 'new';
    this.video = offer ? offer.video !== false : true;
    this.localStream = null;
    this.remoteStream = null;
    this._signal = signal;
    this._rtcConfig = rtcConfig || {};
    this._offer = offer || null;
    this._pendingIce = [];
    this._pc = null;
  }

  _setState(state) {
    if (this.state === state || this.state === 'ended') return;
    this.state = state;
    this.emit('state', { state });
    if (state === 'ended') this.emit('ended', {});
  }

  _peerConnection() {
    const pc = new RTCPeerConnection(this._rtcConfig);
    pc.onicecandidate = (e) => {
      if (e.candidate) this._signal('ice', e.candidate.toJSON());
    };
    pc.ontrack = (e) => {
      this.remoteStream = e.streams[0] || new MediaStream([e.track]);
      this.emit('remote-stream', { stream: this.remoteStream });
    };
    pc.onconnectionstatechange = () => {
      const s = pc.connectionState;
      if (s === 'connected') this._setState('connected');
      else if (s === 'failed') this.end('failed');
      else if (s === 'connecting') this._setState('connecting');
    };
    this._pc = pc;
    return pc;
  }

  async _media(video) {
    this.localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
    this.emit('local-stream', { stream: this.localStream });
    for (const track of this.localStream.getTracks()) this._pc.addTrack(track, this.localStream);
  }

  /** Outgoing: gets the media and sends the offer. */
  async start({ video = true } = {}) {
    this.video = video;
    const pc = this._peerConnection();
    this._setState('calling');
    await this._media(video);
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    this._signal('offer', { type: offer.type, sdp: offer.sdp, video });
  }

  /** Incoming: answers the received offer. */
  async accept({ video = this.video } = {}) {
    const pc = this._peerConnection();
    this._setState('connecting');
    await pc.setRemoteDescription({ type: 'offer', sdp: this._offer.sdp });
    await this._flushIce();
    await this._media(video);
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    this._signal('answer', { type: answer.type, sdp: answer.sdp });
  }

  reject() {
    this.end('rejected');
  }

  /** Hangs up (and tells the peer unless the peer ended it). */
  end(reason = 'hangup', { fromPeer = false } = {}) {
    if (this.state === 'ended') return;
    if (!fromPeer) this._signal('end', { reason });
    this.endReason = reason;
    for (const track of this.localStream?.getTracks() || []) track.stop();
    this._pc?.close();
    this._setState('ended');
  }

  async _flushIce() {
    const pending = this._pendingIce;
    this._pendingIce = [];
    for (const c of pending) await this._pc.addIceCandidate(c).catch(() => {});
  }

  /** Feeds a signal received from the peer. */
  async handle(signal, data) {
    if (this.state === 'ended') return;
    if (signal === 'answer' && this._pc) {
      this._setState('connecting');
      await this._pc.setRemoteDescription({ type: 'answer', sdp: data.sdp });
      await this._flushIce();
    } else if (signal === 'ice') {
      if (this._pc?.remoteDescription) await this._pc.addIceCandidate(data).catch(() => {});
      else this._pendingIce.push(data);
    } else if (signal === 'end') {
      this.end(data?.reason || 'hangup', { fromPeer: true });
    }
  }
}

/**
 * The client. Create one per tab:
 *   const chat = new ChatClient({ httpUrl: 'http://127.0.0.1:3000', wsUrl: 'ws://127.0.0.1:3001' });
 *   await chat.login({ login: 'ada', password: '…' }); chat.connect();
 */
export class ChatClient extends Emitter {
  constructor(options = {}) {
    super();
    const o = {
      httpUrl: '',
      wsUrl: '',
      tokenTransport: DEFAULT_TOKEN_TRANSPORT,
      storage: globalThis.localStorage || memoryStorage(),
      storageKey: 'chat',
      fetch: globalThis.fetch?.bind(globalThis),
      WebSocket: globalThis.WebSocket,
      refreshLeewayMs: 60_000,
      pingIntervalMs: 240_000,
      pongTimeoutMs: 10_000,
      requestTimeoutMs: 15_000,
      backoff: { baseMs: 500, maxMs: 30_000 },
      syncPageSize: 100,
      syncOverlapMs: 10_000,
      receiptDebounceMs: 400,
      autoDelivered: true,
      typingRenewMs: 5_000,
      typingIdleMs: 4_000,
      typingExpiryMs: 10_000,
      rtcConfig: {},
      ...options,
    };
    this.options = o;
    this.httpUrl = String(o.httpUrl).replace(/\/+$/, '');
    this.wsUrl = String(o.wsUrl);
    this.state = 'idle'; // idle | connecting | open | waiting | offline | closed
    this.session = null;
    this._storage = o.storage;
    this._refreshing = null;
    this._refreshTimer = null;
    this._ws = null;
    this._wanted = false;
    this._attempt = 0;
    this._reconnectTimer = null;
    this._pingTimer = null;
    this._pongTimer = null;
    this._seq = 0;
    this._pending = new Map(); // requestId -> {resolve, reject, timer}
    this._outbox = [];
    this._sendWaiters = new Map(); // clientMsgId -> [{resolve, reject}]
    this._flushing = false;
    this._conversations = new Map(); // id -> {messages: Map, olderCursor, hasOlder, members}
    this._pointers = new Map(); // conversationId -> Map userId -> {delivered, read}
    this._users = new Map();
    this._presence = new Map();
    this._typers = new Map(); // conversationId -> Map userId -> timer
    this._typingOut = new Map(); // conversationId -> {lastStart, idleTimer}
    this._receiptQueue = new Map(); // `${status}:${conversationId}` -> {messageId, timer}
    this._receiptSent = new Map();
    this._watermark = undefined; // newest id as of the last completed catch-up (see _catchUp)
    this._liveMax = undefined; // newest id pushed live or acknowledged
    this._calls = new Map();
    this._earlySignals = new Map(); // callId -> signals that overtook their offer
    this._capabilities = null;
    this._listeners = [];
    this._restoreSession();
    this._listenToEnvironment();
  }

  // ------------------------------------------------------------------ storage and session

  _key(name) {
    return `${this.options.storageKey}:${name}`;
  }

  _read(name) {
    try {
      const raw = this._storage.getItem(this._key(name));
      return raw ? JSON.parse(raw) : null;
    } catch {
      return null;
    }
  }

  _write(name, value) {
    try {
      if (value === null || value === undefined) this._storage.removeItem(this._key(name));
      else this._storage.setItem(this._key(name), JSON.stringify(value));
    } catch {
      // Storage full or denied (private mode): the client keeps working from memory.
    }
  }

  _restoreSession() {
    const stored = this._read('session');
    if (stored?.refreshToken && stored.user) {
      this.session = stored;
      this._outbox = (this._read(`outbox:${stored.user.id}`) || []).map((e) => ({ ...e, inFlight: false }));
      this._scheduleRefresh();
    }
  }

  /** The signed-in user, or null. */
  get user() {
    return this.session?.user || null;
  }

  _setSession(pair, reason) {
    const previous = this.session;
    if (!pair) {
      this.session = null;
      this._write('session', null);
      clearTimeout(this._refreshTimer);
      if (previous) this.emit('session', { session: null, reason });
      return;
    }
    const user = pair.user || previous?.user;
    // Only from a token minted just now.
    if (['registered', 'signed-in', 'refreshed'].includes(reason)) {
      this._clockOffsetMs = clockOffsetFromToken(pair.accessToken);
    }
    this.session = {
      accessToken: pair.accessToken,
      refreshToken: pair.refreshToken,
      expiresAt: pair.expiresAt || Date.now() + pair.expiresIn * 1000,
      user,
    };
    this._write('session', this.session);
    if (!previous || previous.user?.id !== user?.id) {
      this._outbox = (this._read(`outbox:${user.id}`) || []).map((e) => ({ ...e, inFlight: false }));
    }
    this._scheduleRefresh();
    this.emit('session', { session: this.session, reason });
  }

  _scheduleRefresh() {
    clearTimeout(this._refreshTimer);
    if (!this.session) return;
    const lifetime = this.session.expiresAt - Date.now();
    const leeway = Math.min(this.options.refreshLeewayMs, lifetime * 0.5);
    const wait = Math.max(0, lifetime - leeway);
    this._refreshTimer = setTimeout(() => this.refresh().catch(() => {}), Math.min(wait, 2 ** 31 - 1));
  }

  _listenToEnvironment() {
    const w = globalThis.window;
    if (!w?.addEventListener) return;
    const add = (target, type, fn) => {
      target.addEventListener(type, fn);
      this._listeners.push(() => target.removeEventListener(type, fn));
    };
    add(w, 'online', () => this._resume('online'));
    add(w, 'offline', () => this._dropSocket('offline'));
    if (globalThis.document) {
      add(globalThis.document, 'visibilitychange', () => {
        if (globalThis.document.visibilityState === 'visible') this._resume('visible');
      });
    }
    // Another tab signed in, refreshed (rotating the refresh token) or signed out.
    add(w, 'storage', (e) => {
      if (e.key !== this._key('session')) return;
      const stored = this._read('session');
      if (!stored) {
        if (this.session) {
          this.disconnect();
          this._setSession(null, 'signed-out-elsewhere');
        }
      } else if (stored.user?.id === this.session?.user?.id) {
        this.session = stored;
        this._scheduleRefresh();
      }
    });
  }

  /** Stops timers and listeners (tests, or an app that replaces the client). */
  destroy() {
    this.disconnect();
    clearTimeout(this._refreshTimer);
    for (const off of this._listeners) off();
    this._listeners = [];
  }

  // ------------------------------------------------------------------ REST

  /**
   * One REST call: JSON in and out, the bearer token, one refresh and retry after a 401.
   * Throws ChatError with the server's code.
   */
  async api(method, path, { body, query, auth = true, retry = true, signal } = {}) {
    if (auth) await this._freshToken();
    let url = this.httpUrl + path;
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
      const s = qs.toString();
      if (s) url += (url.includes('?') ? '&' : '?') + s;
    }
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (auth && this.session) headers.authorization = `Bearer ${this.session.accessToken}`;
    let response;
    try {
      response = await this.options.fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (err) {
      if (err?.name === 'AbortError') throw err;
      throw new ChatError('network', `network error: ${err?.message || err}`);
    }
    if (response.status === 401 && auth && retry) {
      await this.refresh();
      return this.api(method, path, { body, query, auth, retry: false, signal });
    }
    const text = response.status === 204 ? '' : await response.text();
    let json = null;
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    if (!response.ok) {
      const e = json?.error || {};
      const retryAfter = e.retryAfter ?? (Number(response.headers.get('retry-after')) || undefined);
      throw new ChatError(e.code || `http_${response.status}`, e.message || response.statusText, { status: response.status, retryAfter });
    }
    return json;
  }

  async _freshToken() {
    if (!this.session) throw new ChatError('unauthorized', 'not signed in', { status: 401 });
    if (this.session.expiresAt - Date.now() < Math.min(this.options.refreshLeewayMs, 30_000)) await this.refresh();
    return this.session.accessToken;
  }

  /** Creates an account and signs in. */
  async register({ username, email, password, displayName }) {
    const pair = await this.api('POST', '/auth/register', { body: { username, email, password, displayName: displayName || undefined }, auth: false });
    this._setSession(pair, 'registered');
    return pair.user;
  }

  /** Signs in with a username or email. */
  async login({ login, password }) {
    const pair = await this.api('POST', '/auth/login', { body: { login, password }, auth: false });
    this._setSession(pair, 'signed-in');
    return pair.user;
  }

  /**
   * Rotates the token pair. One at a time in this tab, and across tabs through the Web Locks API:
   * a tab that finds a newer pair in storage (another tab refreshed) adopts it instead of reusing
   * its own, already rotated, refresh token (which would revoke the family).
   */
  refresh() {
    if (this._refreshing) return this._refreshing;
    const run = async () => {
      const mine = this.session;
      const stored = this._read('session');
      if (stored && mine && stored.user?.id === mine.user?.id && stored.refreshToken !== mine.refreshToken && stored.expiresAt - Date.now() > 30_000) {
        this.session = stored;
        this._scheduleRefresh();
        this.emit('session', { session: stored, reason: 'refreshed-elsewhere' });
        return;
      }
      const current = stored?.user?.id === mine?.user?.id ? stored : mine;
      if (!current?.refreshToken) throw new ChatError('unauthorized', 'not signed in', { status: 401 });
      try {
        const pair = await this.api('POST', '/auth/refresh', { body: { refreshToken: current.refreshToken }, auth: false });
        this._setSession(pair, 'refreshed');
      } catch (err) {
        if (err.status === 401) {
          this.disconnect();
          this._setSession(null, 'expired');
        }
        throw err;
      }
    };
    const locks = globalThis.navigator?.locks;
    this._refreshing = (locks ? locks.request(`${this.options.storageKey}:refresh`, run) : run()).finally(() => {
      this._refreshing = null;
    });
    return this._refreshing;
  }

  /** Revokes the refresh token, closes the socket and forgets the session. */
  async logout() {
    const session = this.session;
    this.disconnect();
    this._setSession(null, 'signed-out');
    this._conversations.clear();
    this._pointers.clear();
    this._presence.clear();
    this._watermark = this._liveMax = undefined;
    if (session) await this.api('POST', '/auth/logout', { body: { refreshToken: session.refreshToken }, auth: false }).catch(() => {});
  }

  me() {
    return this.api('GET', '/me').then((u) => this._rememberUser(u));
  }
  updateMe(fields) {
    return this.api('PATCH', '/me', { body: fields }).then((u) => {
      this._rememberUser(u);
      if (this.session) this._setSession({ ...this.session, user: { ...this.session.user, ...u } }, 'profile');
      return u;
    });
  }
  searchUsers(q, { limit, cursor } = {}) {
    return this.api('GET', '/users', { query: { q, limit, cursor } }).then((page) => {
      page.users.forEach((u) => this._rememberUser(u));
      return page;
    });
  }
  /** A public user (cached; `fresh` to ask the server again). */
  async getUser(id, { fresh = false } = {}) {
    if (!fresh && this._users.has(id)) return this._users.get(id);
    return this._rememberUser(await this.api('GET', `/users/${encodeURIComponent(id)}`));
  }
  /** Cached user or undefined, without a request. */
  cachedUser(id) {
    return this._users.get(id);
  }
  async onlineUsers() {
    const { users } = await this.api('GET', '/users/online');
    users.forEach((u) => this._rememberUser(u));
    const online = new Set(users.map((u) => u.id));
    for (const [id, p] of this._presence) {
      if (p.online && !online.has(id)) this._setPresence({ userId: id, online: false, lastSeen: p.lastSeen }, true);
    }
    return users;
  }
  stats() {
    return this.api('GET', '/stats');
  }
  health() {
    return this.api('GET', '/health', { auth: false });
  }

  _rememberUser(u) {
    if (!u?.id) return u;
    this._users.set(u.id, { ...this._users.get(u.id), ...u });
    if (typeof u.online === 'boolean') this._setPresence({ userId: u.id, online: u.online, lastSeen: u.lastSeen }, true);
    return this._users.get(u.id);
  }

  // conversations

  async listConversations({ limit, cursor } = {}) {
    const page = await this.api('GET', '/conversations', { query: { limit, cursor } });
    for (const c of page.conversations) if (c.lastMessage) this._ingest(c.lastMessage, 'list');
    return page;
  }
  /** Every page of the conversation list. */
  async allConversations({ pageSize = 100, maxPages = 50 } = {}) {
    const all = [];
    let cursor;
    for (let i = 0; i < maxPages; i++) {
      const page = await this.listConversations({ limit: pageSize, cursor });
      all.push(...page.conversations);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return all;
  }
  async getConversation(id) {
    const c = await this.api('GET', `/conversations/${encodeURIComponent(id)}`);
    this._learnMembers(c);
    return c;
  }
  _learnMembers(c) {
    if (!c?.members) return;
    const conv = this._conv(c.id);
    conv.members = c.members.map((m) => m.userId);
    for (const m of c.members) this._movePointer(c.id, m.userId, { delivered: m.lastDeliveredId, read: m.lastReadId });
    this._recomputeStatus(c.id);
  }
  createDirect(userId) {
    return this.api('POST', '/conversations', { body: { type: 'direct', userId } }).then((c) => (this._learnMembers(c), this._refreshPresence(c), c));
  }
  createGroup(name, memberIds = []) {
    return this.api('POST', '/conversations', { body: { type: 'group', name, memberIds } }).then((c) => (this._learnMembers(c), this._refreshPresence(c), c));
  }
  /** Presence is shown only to people who share a conversation, so what a search answered before
   *  this one existed said nothing: ask again for its (few) members, in the background. */
  _refreshPresence(c) {
    const others = (c?.members || []).map((m) => m.userId).filter((id) => id !== this.user?.id);
    for (const id of others.slice(0, 50)) this.getUser(id, { fresh: true }).catch(() => {});
  }
  createRoom(name) {
    return this.api('POST', '/conversations', { body: { type: 'room', name } }).then((c) => (this._learnMembers(c), c));
  }
  /** Adds a user to a group (a member adds), or joins a room (userId left out: oneself). */
  addMember(conversationId, userId) {
    return this.api('POST', `/conversations/${encodeURIComponent(conversationId)}/members`, { body: userId ? { userId } : {} }).then(
      (c) => (this._learnMembers(c), c),
    );
  }
  /** Joins a room (over the socket when open, else REST). */
  join(conversationId) {
    if (this.state === 'open') return this.request({ action: 'join', conversationId });
    return this.addMember(conversationId, this.user?.id);
  }
  /** Leaves a group or room (over the socket when open, else REST). */
  leave(conversationId) {
    if (this.state === 'open') return this.request({ action: 'leave', conversationId }).then((e) => (this._forget(conversationId), e));
    return this.removeMember(conversationId, this.user?.id).then(() => this._forget(conversationId));
  }
  removeMember(conversationId, userId) {
    return this.api('DELETE', `/conversations/${encodeURIComponent(conversationId)}/members/${encodeURIComponent(userId)}`);
  }
  _forget(conversationId) {
    this._conversations.delete(conversationId);
    this._pointers.delete(conversationId);
  }

  // messages over REST

  /**
   * One history page (newest first for `before` or no cursor, oldest first for `after`); every
   * message enters the store.
   */
  async history(conversationId, { before, after, limit } = {}) {
    const page = await this.api('GET', `/conversations/${encodeURIComponent(conversationId)}/messages`, { query: { before, after, limit } });
    for (const m of page.messages) this._ingest(m, 'history');
    return page;
  }
  /**
   * Loads the next older page of a conversation into the store (infinite scroll). Resolves to
   * the number of messages added; `hasOlder(conversationId)` tells whether more exist.
   */
  async loadOlder(conversationId, { limit = 50 } = {}) {
    const conv = this._conv(conversationId);
    if (conv.hasOlder === false) return 0;
    if (conv.loadingOlder) return conv.loadingOlder;
    const run = async () => {
      const before = conv.olderCursor || undefined;
      const page = await this.history(conversationId, { before, limit });
      conv.olderCursor = page.nextCursor || page.messages.at(-1)?.id || conv.olderCursor;
      conv.hasOlder = Boolean(page.nextCursor);
      return page.messages.length;
    };
    conv.loadingOlder = run().finally(() => {
      conv.loadingOlder = null;
    });
    return conv.loadingOlder;
  }
  hasOlder(conversationId) {
    return this._conv(conversationId).hasOlder !== false;
  }
  /** Reloads the newest page (after a reconnect: edits and deletions sync does not carry). */
  async refreshLatest(conversationId, { limit = 50 } = {}) {
    const conv = this._conv(conversationId);
    const page = await this.history(conversationId, { limit });
    if (conv.hasOlder === undefined) {
      conv.olderCursor = page.nextCursor || page.messages.at(-1)?.id;
      conv.hasOlder = Boolean(page.nextCursor);
    }
    return page;
  }
  async editMessage(conversationId, messageId, content) {
    const m = await this.api('PATCH', `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}`, { body: { content } });
    this._ingest(m, 'edit');
    return m;
  }
  async deleteMessage(conversationId, messageId) {
    await this.api('DELETE', `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}`);
    const existing = this._conv(conversationId).messages.get(messageId);
    if (existing) this._ingest({ ...existing, deleted: true, content: null }, 'delete');
  }
  clearHistory(conversationId) {
    return this.api('DELETE', `/conversations/${encodeURIComponent(conversationId)}/history`).then(() => {
      const conv = this._conv(conversationId);
      conv.messages.clear();
      conv.hasOlder = false;
      this.emit('cleared', { conversationId });
    });
  }
  unread() {
    return this.api('GET', '/unread');
  }
  scheduleMessage({ conversationId, content, sendAt }) {
    return this.api('POST', '/scheduled-messages', { body: { conversationId, content, sendAt: sendAt instanceof Date ? sendAt.toISOString() : sendAt } });
  }
  scheduledMessages({ limit, cursor } = {}) {
    return this.api('GET', '/scheduled-messages', { query: { limit, cursor } });
  }
  cancelScheduled(id) {
    return this.api('DELETE', `/scheduled-messages/${encodeURIComponent(id)}`);
  }

  // attachments, devices, mute, matching (contract §4; see capabilities())

  /**
   * Uploads a file or voice note: `POST /uploads`, then a PUT of the bytes to the presigned URL
   * with progress. Resolves to the attachmentId to send.
   */
  async upload(blob, { kind = 'file', fileName, contentType, durationSec, onProgress, signal } = {}) {
    const type = contentType || blob.type || 'application/octet-stream';
    const ticket = await this.api('POST', '/uploads', {
      body: { fileName: fileName || blob.name || (kind === 'voice' ? 'voice-note.webm' : 'file'), contentType: type, size: blob.size, kind, durationSec },
    });
    await putWithProgress(ticket.uploadUrl, blob, { headers: ticket.uploadHeaders || { 'content-type': type }, onProgress, signal });
    return ticket.attachmentId;
  }
  /** Uploads, then sends the attachment (with an optional caption) through the outbox. */
  async sendAttachment(target, blob, { caption, kind = 'file', fileName, durationSec, onProgress, signal } = {}) {
    const attachmentId = await this.upload(blob, { kind, fileName, durationSec, onProgress, signal });
    return this.send({ ...target, content: caption || undefined, attachmentId });
  }
  /** The attachment with a fresh download URL. */
  getAttachment(id) {
    return this.api('GET', `/attachments/${encodeURIComponent(id)}`).then((r) => r.attachment || r);
  }
  registerDevice({ deviceId, platform = 'web', pushToken, name }) {
    return this.api('POST', '/me/devices', { body: { deviceId, platform, pushToken, name } });
  }
  listDevices() {
    return this.api('GET', '/me/devices').then((r) => r.devices || r);
  }
  deleteDevice(deviceId) {
    return this.api('DELETE', `/me/devices/${encodeURIComponent(deviceId)}`);
  }
  /** This browser's stable device id (kept in storage). */
  deviceId() {
    let id = this._read('device');
    if (!id) {
      id = `web-${randomId()}`;
      this._write('device', id);
    }
    return id;
  }
  setMuted(conversationId, muted) {
    return this.api('PATCH', `/conversations/${encodeURIComponent(conversationId)}/me`, { body: { muted } });
  }
  waitingForMatch() {
    return this.api('GET', '/users/available');
  }
  /** Enters random matching; resolves on `match.waiting` (then `match.found` is emitted). */
  match() {
    return this.request({ action: 'match' });
  }
  /** Leaves random matching (the contract defines no answer to wait for). */
  cancelMatch() {
    this._sendFrame({ action: 'match.cancel' });
    return Promise.resolve();
  }

  /**
   * Which contract features this deployment serves: REST ones from its own GET /openapi.json (a
   * path that is absent or marked planned is not served), WebSocket ones by asking (an unknown
   * action answers `invalid_input` "unknown action"). Asks once per page.
   */
  async capabilities({ probeSocket = true } = {}) {
    if (this._capabilities) return this._capabilities;
    const caps = { uploads: false, attachments: false, devices: false, mute: false, call: false, match: false };
    try {
      const doc = await this.api('GET', '/openapi.json', { auth: false });
      const served = (path, method) => {
        const op = doc?.paths?.[path]?.[method];
        return Boolean(op) && op['x-status'] !== 'planned' && !/\(planned\)/i.test(op.summary || '');
      };
      caps.uploads = served('/uploads', 'post');
      caps.attachments = caps.uploads && served('/attachments/{id}', 'get');
      caps.devices = served('/me/devices', 'get') && served('/me/devices', 'post');
      caps.mute = served('/conversations/{id}/me', 'patch');
      caps.matchRest = served('/users/available', 'get');
    } catch {
      // No document: assume only the core.
    }
    if (probeSocket && this.state === 'open' && this.user) {
      const probe = async (frame) => {
        try {
          await this.request(frame, { timeoutMs: 5000 });
          return true;
        } catch (err) {
          return !(err.code === 'invalid_input' && /unknown action/i.test(err.message));
        }
      };
      // A `call` to oneself is refused by a server that serves calls. `match.cancel` is harmless
      // but answers nothing when served (the probe then waits out its timeout), so a server whose
      // document lists the matching endpoint is taken at its word.
      [caps.call, caps.match] = await Promise.all([
        probe({ action: 'call', to: this.user.id, callId: 'capability-probe', signal: 'end', data: null }),
        caps.matchRest ? true : probe({ action: 'match.cancel' }),
      ]);
      this._capabilities = caps;
    }
    return caps;
  }

  // ------------------------------------------------------------------ the socket

  /** Opens the socket and keeps it open (reconnecting) until disconnect() or logout(). */
  connect() {
    this._wanted = true;
    this._open();
  }

  /** Closes the socket and stops reconnecting. */
  disconnect() {
    this._wanted = false;
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    this._dropSocket('closed', 1000);
  }

  /** Reconnects now, skipping any backoff wait. */
  reconnectNow() {
    this._dropSocket('waiting');
    this._attempt = 0;
    this._resume('manual');
  }

  _setState(state, extra = {}) {
    if (this.state === state && !extra.force) return;
    this.state = state;
    this.emit('state', { state, ...extra });
  }

  _resume(reason) {
    if (!this._wanted || !this.session) return;
    if (this._ws) {
      // Visible again: make sure the socket is still alive.
      if (this.state === 'open' && reason === 'visible') this._ping();
      return;
    }
    clearTimeout(this._reconnectTimer);
    this._reconnectTimer = null;
    this._attempt = 0;
    this._open();
  }

  async _open() {
    if (!this._wanted || this._ws || this._opening) return;
    if (!this.session) return this._setState('idle');
    if (globalThis.navigator && globalThis.navigator.onLine === false) return this._setState('offline');
    this._opening = true;
    let token;
    try {
      token = await this._freshToken();
    } catch (err) {
      this._opening = false;
      if (this.session) this._scheduleReconnect();
      return;
    }
    this._opening = false;
    if (!this._wanted || this._ws) return;
    if (globalThis.navigator && globalThis.navigator.onLine === false) return this._setState('offline');
    this._setState('connecting', { attempt: this._attempt });
    const transport = this._queryFallback ? 'query' : this.options.tokenTransport;
    let ws;
    try {
      if (transport === 'subprotocol') {
        ws = new this.options.WebSocket(this.wsUrl, ['chat', `token.${token}`]);
      } else {
        const sep = this.wsUrl.includes('?') ? '&' : '?';
        ws = new this.options.WebSocket(`${this.wsUrl}${sep}token=${encodeURIComponent(token)}`);
      }
    } catch (err) {
      this._scheduleReconnect();
      return;
    }
    this._ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      if (transport === 'subprotocol') this._subprotocolWorked = true;
      this._attempt = 0;
      this._setState('open');
      this._startPing();
      this._afterOpen();
    };
    ws.onmessage = (e) => this._onFrame(e.data);
    ws.onclose = (e) => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._socketGone();
      if (!this._wanted) return this._setState('closed', { code: e.code });
      if (!opened) this._handshakeFailed();
      else this._scheduleReconnect(e.code);
    };
    ws.onerror = () => {
      // Always followed by close; nothing else to learn from it in a browser.
    };
  }

  /** A refused handshake hides its status (401?) from scripts: ask REST, which refreshes on 401. */
  async _handshakeFailed() {
    try {
      await this.api('GET', '/me');
      // The token is good, so the handshake failed for another reason: a server that never
      // selected `chat` is one; fall back to the query string unless the subprotocol worked before.
      if (this.options.tokenTransport === 'subprotocol' && !this._subprotocolWorked) this._queryFallback = true;
    } catch (err) {
      if (!this.session) return this._setState('idle', { reason: 'unauthorized' });
    }
    this._scheduleReconnect();
  }

  _scheduleReconnect(code) {
    if (!this._wanted || this._reconnectTimer || this._ws) return;
    if (globalThis.navigator && globalThis.navigator.onLine === false) return this._setState('offline');
    const delay = backoffDelay(this._attempt++, this.options.backoff);
    this._setState('waiting', { delay, attempt: this._attempt, code });
    this._reconnectTimer = setTimeout(() => {
      this._reconnectTimer = null;
      this._open();
    }, delay);
  }

  /** Forgets the socket at once (the network is gone: its close may never arrive). */
  _dropSocket(state, code = 4000) {
    const ws = this._ws;
    if (!ws) {
      if (state === 'offline' && this._wanted) {
        clearTimeout(this._reconnectTimer);
        this._reconnectTimer = null;
        this._setState('offline');
      }
      return;
    }
    this._ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code === 1000 ? 1000 : 4000, state);
    } catch {
      // Already closing.
    }
    this._socketGone();
    if (state === 'offline' && this._wanted) this._setState('offline');
    else if (state === 'closed' || !this._wanted) this._setState('closed');
  }

  _socketGone() {
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    this._pingTimer = this._pongTimer = null;
    for (const [id, p] of this._pending) {
      clearTimeout(p.timer);
      p.reject(new ChatError('disconnected', 'the connection closed before an answer', { requestId: id }));
    }
    this._pending.clear();
    for (const e of this._outbox) e.inFlight = false;
    for (const [, t] of this._typingOut) clearTimeout(t.idleTimer);
    this._typingOut.clear();
  }

  _startPing() {
    clearInterval(this._pingTimer);
    this._pingTimer = setInterval(() => this._ping(), this.options.pingIntervalMs);
  }

  _ping() {
    if (this.state !== 'open' || this._pongTimer) return;
    this._pongTimer = setTimeout(() => {
      this._pongTimer = null;
      // No pong: a half-open socket. Drop it and reconnect.
      this._dropSocket('waiting');
      this._scheduleReconnect();
    }, this.options.pongTimeoutMs);
    this._sendFrame({ action: 'ping', requestId: this._nextRequestId() });
  }

  async _afterOpen() {
    const ws = this._ws;
    this._flush();
    try {
      await this._catchUp();
      this.onlineUsers().catch(() => {});
    } catch (err) {
      // The socket closed mid-way; the next open catches up again.
      if (this._ws === ws && err.code !== 'disconnected') this.emit('client-error', { error: err, during: 'sync' });
    }
  }

  _nextRequestId() {
    return `r${(++this._seq).toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  }

  _sendFrame(frame) {
    // readyState, not only our state: a socket that is closing (its close event still to come)
    // must not be written to.
    if (!this._ws || this.state !== 'open' || this._ws.readyState !== 1) return false;
    this._ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Sends an action and resolves with the event that answers it (same requestId); an `error`
   * answer rejects with ChatError. Rejects with code `disconnected` if the socket is not open or
   * closes first, `timeout` after requestTimeoutMs.
   */
  request(frame, { timeoutMs = this.options.requestTimeoutMs } = {}) {
    const requestId = frame.requestId || this._nextRequestId();
    return new Promise((resolve, reject) => {
      if (this.state !== 'open' || this._ws?.readyState !== 1) return reject(new ChatError('disconnected', 'not connected', { requestId }));
      const timer = setTimeout(() => {
        this._pending.delete(requestId);
        reject(new ChatError('timeout', `no answer to ${frame.action}`, { requestId }));
      }, timeoutMs);
      this._pending.set(requestId, { resolve, reject, timer });
      this._sendFrame({ ...frame, requestId });
    });
  }

  _onFrame(data) {
    let event;
    try {
      event = JSON.parse(data);
    } catch {
      return;
    }
    if (!event || typeof event !== 'object') return;
    if (!event.type) {
      // API Gateway's own answers ({"message":"Internal server error"} / "Forbidden").
      this.emit('client-error', { error: new ChatError('gateway', event.message || 'gateway error') });
      return;
    }
    if (event.type === 'pong') {
      clearTimeout(this._pongTimer);
      this._pongTimer = null;
    }
    this._handleEvent(event);
    this.emit(event.type, event);
    if (event.requestId && this._pending.has(event.requestId)) {
      const p = this._pending.get(event.requestId);
      this._pending.delete(event.requestId);
      clearTimeout(p.timer);
      if (event.type === 'error') p.reject(new ChatError(event.code, event.message, { requestId: event.requestId, retryAfter: event.retryAfter }));
      else p.resolve(event);
    }
  }

  _handleEvent(e) {
    switch (e.type) {
      case 'message.new':
      case 'message.updated':
      case 'message.deleted':
        this._ingest(e.message, 'live');
        break;
      case 'message.sent':
        this._ingest(e.message, 'sent');
        break;
      case 'receipt':
        this._movePointer(e.conversationId, e.userId, { [e.status]: e.messageId, ...(e.status === 'read' ? { delivered: e.messageId } : {}) });
        this._recomputeStatus(e.conversationId);
        break;
      case 'typing':
        this._onTyping(e);
        break;
      case 'presence':
        this._setPresence(e);
        break;
      case 'member.joined':
      case 'member.left': {
        const conv = this._conversations.get(e.conversationId);
        if (conv?.members) {
          const set = new Set(conv.members);
          if (e.type === 'member.joined') set.add(e.userId);
          else set.delete(e.userId);
          conv.members = [...set];
        }
        if (e.type === 'member.left' && e.userId === this.user?.id) this._forget(e.conversationId);
        break;
      }
      case 'call':
        this._onCallSignal(e);
        break;
      default:
    }
  }

  // ------------------------------------------------------------------ sync

  /**
   * Catch-up after a connect: every page of `sync`. The first one of a page's life goes from the
   * server's delivered pointers; later ones from the newest id this page has seen, less
   * syncOverlapMs (a message stored just before the newest one may have been pushed after it).
   * Repeats are harmless: the store dedupes by id.
   */
  async _catchUp() {
    const since = this._watermark ? ulidFloor(ulidTime(this._watermark) - this.options.syncOverlapMs) : undefined;
    let cursor;
    let newest = this._watermark;
    let count = 0;
    let pages = 0;
    for (;;) {
      const page = await this.request({ action: 'sync', since, cursor, limit: this.options.syncPageSize });
      pages++;
      for (const m of page.messages) if (this._ingest(m, 'sync')) count++;
      for (const r of page.receipts || []) {
        this._movePointer(r.conversationId, r.userId, { [r.status]: r.messageId, ...(r.status === 'read' ? { delivered: r.messageId } : {}) });
      }
      const touched = new Set([...(page.receipts || []).map((r) => r.conversationId)]);
      for (const id of touched) this._recomputeStatus(id);
      if (page.cursor && (!newest || page.cursor > newest)) newest = page.cursor;
      if (!page.hasMore || !page.cursor || page.cursor === cursor || pages > 1000) break;
      cursor = page.cursor;
    }
    // Only a completed catch-up makes a watermark: everything before it has been seen. With none
    // (nothing ever seen), the next catch-up again goes from the server's pointers, never from
    // this machine's clock.
    for (const id of [newest, this._liveMax]) if (id && (!this._watermark || id > this._watermark)) this._watermark = id;
    this.emit('synced', { newMessages: count, pages });
    return { newMessages: count, pages };
  }

  /** Runs a catch-up now (the client does it after every connect by itself). */
  sync() {
    return this._catchUp();
  }

  // ------------------------------------------------------------------ the store

  _conv(id) {
    let c = this._conversations.get(id);
    if (!c) {
      c = { messages: new Map(), olderCursor: undefined, hasOlder: undefined, members: undefined, loadingOlder: null };
      this._conversations.set(id, c);
    }
    return c;
  }

  /** The conversation's known messages, oldest first (pending ones are in `pending()`). */
  messages(conversationId) {
    const c = this._conversations.get(conversationId);
    if (!c) return [];
    return [...c.messages.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** A message from the store. */
  message(conversationId, id) {
    return this._conversations.get(conversationId)?.messages.get(id);
  }

  /** Returns true when the message was new. */
  _ingest(m, source) {
    if (!m?.id || !m.conversationId) return false;
    const conv = this._conv(m.conversationId);
    const existing = conv.messages.get(m.id);
    if ((source === 'live' || source === 'sent') && (!this._liveMax || m.id > this._liveMax)) this._liveMax = m.id;
    if (!existing) {
      const msg = { ...m };
      if (msg.senderId === this.user?.id) msg.status = this._bestStatus(msg.status, this._computedStatus(msg)) || 'sent';
      conv.messages.set(m.id, msg);
      this.emit('message', { message: msg, source });
      if (msg.senderId && msg.senderId !== this.user?.id) {
        this._clearTyper(msg.conversationId, msg.senderId);
        if (this.options.autoDelivered && (source === 'live' || source === 'sync')) this.markDelivered(msg.conversationId, msg.id);
      }
      return true;
    }
    const merged = { ...existing };
    let changed = false;
    if (m.deleted && !existing.deleted) {
      Object.assign(merged, { deleted: true, content: null, attachment: undefined });
      changed = true;
    } else if (!existing.deleted && m.editedAt && (!existing.editedAt || m.editedAt > existing.editedAt)) {
      Object.assign(merged, { content: m.content, editedAt: m.editedAt });
      changed = true;
    }
    if (m.attachment && !existing.attachment && !merged.deleted) {
      merged.attachment = m.attachment;
      changed = true;
    }
    const status = this._bestStatus(existing.status, m.status);
    if (status !== existing.status && existing.senderId === this.user?.id) {
      merged.status = status;
      changed = true;
    }
    if (changed) {
      conv.messages.set(m.id, merged);
      this.emit('update', { message: merged, source });
    }
    return false;
  }

  _bestStatus(a, b) {
    if (!a) return b;
    if (!b) return a;
    return (STATUS_RANK[b] ?? 0) > (STATUS_RANK[a] ?? 0) ? b : a;
  }

  _movePointer(conversationId, userId, { delivered, read }) {
    if (!this._pointers.has(conversationId)) this._pointers.set(conversationId, new Map());
    const map = this._pointers.get(conversationId);
    const p = map.get(userId) || { delivered: null, read: null };
    if (delivered && (!p.delivered || delivered > p.delivered)) p.delivered = delivered;
    if (read && (!p.read || read > p.read)) p.read = read;
    if (p.read && (!p.delivered || p.read > p.delivered)) p.delivered = p.read;
    map.set(userId, p);
    if (userId === this.user?.id && read) this.emit('read-pointer', { conversationId, messageId: p.read });
  }

  /** Where a member's pointers stand, as far as this client knows. */
  pointer(conversationId, userId) {
    return this._pointers.get(conversationId)?.get(userId) || { delivered: null, read: null };
  }

  /** The other members this client knows for a conversation (direct: from its id). */
  _others(conversationId) {
    const me = this.user?.id;
    const peer = directPeer(conversationId, me);
    if (peer) return [peer];
    const members = this._conversations.get(conversationId)?.members;
    return members ? members.filter((id) => id !== me) : null;
  }

  _computedStatus(m) {
    const others = this._others(m.conversationId);
    if (!others || others.length === 0) return undefined;
    const ps = others.map((u) => this.pointer(m.conversationId, u));
    if (ps.every((p) => p.read && p.read >= m.id)) return 'read';
    if (ps.every((p) => p.delivered && p.delivered >= m.id)) return 'delivered';
    return undefined;
  }

  _recomputeStatus(conversationId) {
    const conv = this._conversations.get(conversationId);
    if (!conv) return;
    const me = this.user?.id;
    for (const m of conv.messages.values()) {
      if (m.senderId !== me || m.deleted) continue;
      const s = this._bestStatus(m.status, this._computedStatus(m));
      if (s !== m.status) {
        const updated = { ...m, status: s };
        conv.messages.set(m.id, updated);
        this.emit('update', { message: updated, source: 'receipt' });
      }
    }
  }

  // ------------------------------------------------------------------ sending and the outbox

  /**
   * Queues a message and resolves with it once the server stored it (`message.sent`), which
   * may be after reconnects: the outbox resends with the same clientMsgId until then. Rejects
   * only for answers that a resend cannot fix (invalid_input, not_found, forbidden, too large).
   * @param {{conversationId?: string, to?: string, content?: string, attachmentId?: string}} msg
   */
  send({ conversationId, to, content, attachmentId }) {
    if (!this.user) return Promise.reject(new ChatError('unauthorized', 'not signed in'));
    const entry = {
      clientMsgId: this._newClientMsgId(),
      conversationId: conversationId || undefined,
      to: conversationId ? undefined : to,
      content: content ?? undefined,
      attachmentId: attachmentId || undefined,
      createdAt: new Date().toISOString(),
      senderId: this.user.id,
      status: 'pending',
      inFlight: false,
    };
    this._outbox.push(entry);
    this._saveOutbox();
    if (conversationId) this.stopTyping(conversationId);
    const done = new Promise((resolve, reject) => this._sendWaiters.set(entry.clientMsgId, { resolve, reject }));
    this.emit('outbox', { pending: this.pending() });
    this._flush();
    return done;
  }

  /**
   * A ULID from the server-corrected clock, 250 ms in the past (the server takes a ULID up to
   * 5 s old, or up to 1 s ahead, as the message's id: one write); a plain random id once the
   * server said this clock is too far ahead.
   */
  _newClientMsgId() {
    if (this._plainClientMsgIds) return `c-${randomId()}`;
    return ulidAt(Date.now() + (this._clockOffsetMs || 0) - 250);
  }

  /** Messages not yet acknowledged (pending) or refused (failed), oldest first. */
  pending(conversationId) {
    return this._outbox
      .filter((e) => !conversationId || e.conversationId === conversationId)
      .map(({ inFlight, attempts, ...e }) => ({ ...e }));
  }

  /** Drops a failed (or pending) message from the outbox. */
  discard(clientMsgId) {
    const i = this._outbox.findIndex((e) => e.clientMsgId === clientMsgId);
    if (i >= 0) {
      this._outbox.splice(i, 1);
      this._saveOutbox();
      this.emit('outbox', { pending: this.pending() });
    }
  }

  /** Puts a failed message back in the queue. */
  retry(clientMsgId) {
    const e = this._outbox.find((x) => x.clientMsgId === clientMsgId);
    if (e && e.status === 'failed') {
      e.status = 'pending';
      delete e.error;
      this._saveOutbox();
      this.emit('outbox', { pending: this.pending() });
      this._flush();
    }
  }

  _saveOutbox() {
    if (!this.user) return;
    const entries = this._outbox.map(({ inFlight, ...e }) => e);
    this._write(`outbox:${this.user.id}`, entries.length ? entries : null);
  }

  /** Sends the queue in order, one at a time (so a conversation's order is the order typed). */
  async _flush() {
    if (this._flushing) {
      this._flushAgain = true;
      return;
    }
    this._flushing = true;
    this._flushAgain = false;
    try {
      while (this.state === 'open') {
        const entry = this._outbox.find((e) => e.status === 'pending');
        if (!entry) break;
        entry.inFlight = true;
        entry.attempts = (entry.attempts || 0) + 1;
        const frame = { action: 'send', clientMsgId: entry.clientMsgId };
        if (entry.conversationId) frame.conversationId = entry.conversationId;
        else frame.to = entry.to;
        if (entry.content !== undefined) frame.content = entry.content;
        if (entry.attachmentId) frame.attachmentId = entry.attachmentId;
        try {
          const answer = await this.request(frame);
          this._settle(entry, answer.message);
        } catch (err) {
          entry.inFlight = false;
          if (err.code === 'invalid_input' && /ahead of the server's clock/.test(err.message || '')) {
            // Refused before anything was stored: the same message under a plain id, and plain
            // ids from now on (this clock cannot be trusted for ids).
            this._plainClientMsgIds = true;
            this._renameOutboxEntry(entry, this._newClientMsgId());
            continue;
          }
          if (PERMANENT_SEND_ERRORS.has(err.code)) {
            entry.status = 'failed';
            entry.error = { code: err.code, message: err.message };
            this._saveOutbox();
            this.emit('outbox', { pending: this.pending() });
            this._sendWaiters.get(entry.clientMsgId)?.reject(err);
            this._sendWaiters.delete(entry.clientMsgId);
          } else if (err.code === 'rate_limited') {
            await new Promise((r) => setTimeout(r, (err.retryAfter || 1) * 1000));
          } else if (err.code === 'disconnected') {
            break; // resent after the reconnect
          } else {
            await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * entry.attempts)));
          }
        }
      }
    } finally {
      this._flushing = false;
      if (this._flushAgain && this.state === 'open') this._flush();
    }
  }

  _renameOutboxEntry(entry, clientMsgId) {
    const waiter = this._sendWaiters.get(entry.clientMsgId);
    this._sendWaiters.delete(entry.clientMsgId);
    if (waiter) this._sendWaiters.set(clientMsgId, waiter);
    entry.clientMsgId = clientMsgId;
    this._saveOutbox();
  }

  _settle(entry, message) {
    const i = this._outbox.indexOf(entry);
    if (i >= 0) this._outbox.splice(i, 1);
    this._saveOutbox();
    if (message) this._ingest(message, 'sent');
    this.emit('outbox', { pending: this.pending(), sent: { clientMsgId: entry.clientMsgId, message } });
    this._sendWaiters.get(entry.clientMsgId)?.resolve(message);
    this._sendWaiters.delete(entry.clientMsgId);
  }

  // ------------------------------------------------------------------ receipts

  /** Moves the delivered pointer (debounced; never back). */
  markDelivered(conversationId, messageId) {
    this._queueReceipt('delivered', conversationId, messageId);
  }

  /** Moves the read pointer (debounced; never back); also clears the unread count. */
  markRead(conversationId, messageId) {
    this._queueReceipt('read', conversationId, messageId);
  }

  _queueReceipt(status, conversationId, messageId) {
    if (!messageId) return;
    const key = `${status}:${conversationId}`;
    const sent = this._receiptSent.get(key);
    if (sent && sent >= messageId) return;
    const q = this._receiptQueue.get(key);
    if (q) {
      if (messageId > q.messageId) q.messageId = messageId;
      return;
    }
    const entry = { messageId };
    entry.timer = setTimeout(() => this._sendReceipt(status, conversationId, key), this.options.receiptDebounceMs);
    this._receiptQueue.set(key, entry);
  }

  async _sendReceipt(status, conversationId, key) {
    const entry = this._receiptQueue.get(key);
    this._receiptQueue.delete(key);
    if (!entry) return;
    const { messageId } = entry;
    if (status === 'delivered') {
      const read = this._receiptSent.get(`read:${conversationId}`);
      if (read && read >= messageId) return;
    }
    try {
      if (this.state === 'open') {
        await this.request({ action: status, conversationId, messageId });
      } else if (status === 'read') {
        await this.api('POST', `/conversations/${encodeURIComponent(conversationId)}/read`, { body: { messageId } });
      } else {
        return; // delivered is re-derived after the reconnect's sync
      }
      const prev = this._receiptSent.get(key);
      if (!prev || messageId > prev) this._receiptSent.set(key, messageId);
      if (status === 'read') this._movePointer(conversationId, this.user.id, { read: messageId });
    } catch (err) {
      if (err.code === 'disconnected' && status === 'read') this._queueReceipt(status, conversationId, messageId);
    }
  }

  // ------------------------------------------------------------------ typing

  /** Call on every keystroke in a composer: sends `start` (renewed before the 10 s expiry) and a `stop` after a pause. */
  typing(conversationId) {
    if (this.state !== 'open' || !conversationId) return;
    const now = Date.now();
    let t = this._typingOut.get(conversationId);
    if (!t) {
      t = { lastStart: 0, idleTimer: null };
      this._typingOut.set(conversationId, t);
    }
    if (now - t.lastStart >= this.options.typingRenewMs) {
      t.lastStart = now;
      this._sendFrame({ action: 'typing', conversationId, state: 'start' });
    }
    clearTimeout(t.idleTimer);
    t.idleTimer = setTimeout(() => this.stopTyping(conversationId), this.options.typingIdleMs);
  }

  /** Sends `stop` if a `start` is standing (on send, blur, or clearing the composer). */
  stopTyping(conversationId) {
    const t = this._typingOut.get(conversationId);
    if (!t) return;
    clearTimeout(t.idleTimer);
    this._typingOut.delete(conversationId);
    this._sendFrame({ action: 'typing', conversationId, state: 'stop' });
  }

  /** User ids typing in a conversation now. */
  typers(conversationId) {
    return [...(this._typers.get(conversationId)?.keys() || [])];
  }

  _onTyping(e) {
    if (e.userId === this.user?.id) return;
    if (!this._typers.has(e.conversationId)) this._typers.set(e.conversationId, new Map());
    const map = this._typers.get(e.conversationId);
    clearTimeout(map.get(e.userId));
    if (e.state === 'start') {
      const ms = (e.expiresIn ? e.expiresIn * 1000 : this.options.typingExpiryMs) + 500;
      map.set(e.userId, setTimeout(() => this._clearTyper(e.conversationId, e.userId), ms));
    } else {
      map.delete(e.userId);
    }
    this.emit('typers', { conversationId: e.conversationId, userIds: this.typers(e.conversationId) });
  }

  _clearTyper(conversationId, userId) {
    const map = this._typers.get(conversationId);
    if (!map?.has(userId)) return;
    clearTimeout(map.get(userId));
    map.delete(userId);
    this.emit('typers', { conversationId, userIds: this.typers(conversationId) });
  }

  // ------------------------------------------------------------------ presence

  /** {online, lastSeen} of a user, as far as this client knows. */
  presence(userId) {
    return this._presence.get(userId) || { online: false, lastSeen: undefined };
  }

  /** Keeps the event with the later lastSeen when two arrive out of order (docs/protocol.md). */
  _setPresence({ userId, online, lastSeen }, authoritative = false) {
    const prev = this._presence.get(userId);
    if (!authoritative && prev?.lastSeen && lastSeen && lastSeen < prev.lastSeen) return;
    if (prev && prev.online === online && prev.lastSeen === lastSeen) return;
    const next = { online, lastSeen: lastSeen || prev?.lastSeen };
    this._presence.set(userId, next);
    const user = this._users.get(userId);
    if (user) this._users.set(userId, { ...user, online, lastSeen: next.lastSeen });
    this.emit('presence.changed', { userId, ...next });
  }

  // ------------------------------------------------------------------ calls

  /** Sends one `call` signal (the relay of contract §5). */
  callSignal(to, callId, signal, data) {
    return this._sendFrame({ action: 'call', to, callId, signal, data });
  }

  /** Starts a 1:1 WebRTC call; the session emits `state` (calling, connecting, connected, ended). */
  async startCall(userId, { video = true } = {}) {
    const callId = `call-${randomId()}`;
    const call = new CallSession({
      peer: userId,
      callId,
      direction: 'outgoing',
      rtcConfig: this.options.rtcConfig,
      signal: (signal, data) => this.callSignal(userId, callId, signal, data),
    });
    this._calls.set(callId, call);
    call.on('ended', () => this._calls.delete(callId));
    await call.start({ video });
    return call;
  }

  _onCallSignal(e) {
    const existing = this._calls.get(e.callId);
    if (existing) {
      existing.handle(e.signal, e.data);
      return;
    }
    if (e.signal !== 'offer') {
      // Frames run through concurrent functions, so ICE may overtake its offer: keep it a while.
      if (!this._earlySignals.has(e.callId)) {
        this._earlySignals.set(e.callId, []);
        setTimeout(() => this._earlySignals.delete(e.callId), 30_000);
      }
      this._earlySignals.get(e.callId).push(e);
      return;
    }
    const call = new CallSession({
      peer: e.from,
      callId: e.callId,
      direction: 'incoming',
      rtcConfig: this.options.rtcConfig,
      offer: e.data,
      signal: (signal, data) => this.callSignal(e.from, e.callId, signal, data),
    });
    this._calls.set(e.callId, call);
    call.on('ended', () => this._calls.delete(e.callId));
    for (const early of this._earlySignals.get(e.callId) || []) call.handle(early.signal, early.data);
    this._earlySignals.delete(e.callId);
    if (call.state === 'ended') return; // hung up before the offer was seen
    this.emit('incoming-call', { call, from: e.from });
  }
}

/**
 * PUT with upload progress (fetch has none): XMLHttpRequest in browsers, fetch elsewhere.
 * @param {(p: {loaded: number, total: number}) => void} [onProgress]
 */
export function putWithProgress(url, blob, { headers = {}, onProgress, signal } = {}) {
  if (typeof XMLHttpRequest === 'undefined') {
    return fetch(url, { method: 'PUT', headers, body: blob, signal }).then((r) => {
      if (!r.ok) throw new ChatError('upload_failed', `upload answered ${r.status}`, { status: r.status });
      onProgress?.({ loaded: blob.size, total: blob.size });
    });
  }
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => onProgress?.({ loaded: e.loaded, total: e.lengthComputable ? e.total : blob.size });
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.({ loaded: blob.size, total: blob.size });
        resolve();
      } else reject(new ChatError('upload_failed', `upload answered ${xhr.status}`, { status: xhr.status }));
    };
    xhr.onerror = () => reject(new ChatError('network', 'upload failed'));
    xhr.onabort = () => reject(new ChatError('aborted', 'upload aborted'));
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(blob);
  });
}

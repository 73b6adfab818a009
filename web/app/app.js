// The web client: plain DOM over chat-client.js. The library keeps the session, the socket, the
// outbox and a message store deduped by id; this file renders them and turns input into calls.
import { ChatClient, ChatError, directPeer, VERSION } from './chat-client.js';

const config = window.CHAT_CONFIG || {};
const client = new ChatClient({
  httpUrl: config.httpUrl || location.origin,
  wsUrl: config.wsUrl || `ws://${location.hostname}:3001`,
  ...(config.tokenTransport ? { tokenTransport: config.tokenTransport } : {}),
  ...(config.client || {}),
});

/** What the app knows beyond the library's store. */
const S = {
  convs: new Map(), // id -> {id, type, name, memberCount, lastMessage, lastActivityAt, unread, countedUpTo, members?}
  current: null,
  view: 'welcome',
  caps: { uploads: false, attachments: false, devices: false, mute: false, call: false, match: false, ...(config.features || {}) },
  /** Whether the server was asked what it serves yet: until then no "not served" notice is shown. */
  capsKnown: false,
  attachment: null, // {blob, kind, durationSec, fileName, previewUrl}
  recorder: null,
  call: null,
  matching: false,
};
// For people poking around in devtools, and for the browser tests' diagnostics.
window.chatApp = { client, state: S };

const $ = (sel, root = document) => root.querySelector(sel);
const me = () => client.user?.id;

// ------------------------------------------------------------------ small DOM helpers

function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

function icon(name, label) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'icon');
  if (label) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', label);
  } else svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS('http://www.w3.org/2000/svg', 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}

const PALETTE = ['#1d4ed8', '#047857', '#b45309', '#7c3aed', '#be123c', '#0e7490', '#4d7c0f', '#9333ea'];
function colorFor(key) {
  let n = 0;
  for (const ch of String(key)) n = (n * 31 + ch.codePointAt(0)) >>> 0;
  return PALETTE[n % PALETTE.length];
}
function initials(name) {
  const parts = String(name || '?').trim().split(/[\s._-]+/).filter(Boolean);
  return ((parts[0]?.[0] || '?') + (parts[1]?.[0] || '')).toUpperCase();
}
function avatar(name, key, { online, small } = {}) {
  const el = h('span', { class: `avatar${small ? ' small' : ''}`, 'aria-hidden': 'true' }, initials(name));
  el.style.background = colorFor(key || name);
  if (online !== undefined) el.append(h('span', { class: `dot${online ? ' online' : ''}` }));
  return el;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
function shortTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? timeFmt.format(d) : dateFmt.format(d);
}
function lastSeenText(p) {
  if (p.online) return 'online';
  if (!p.lastSeen) return 'offline';
  return `last seen ${shortTime(p.lastSeen)}`;
}
function humanSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function toast(text, ms = 4000) {
  const t = h('div', { class: 't' }, text);
  $('#toast').append(t);
  setTimeout(() => t.remove(), ms);
}

function errorText(err) {
  if (!(err instanceof ChatError)) return String(err?.message || err);
  switch (err.code) {
    case 'invalid_credentials':
      return 'Wrong username, email or password.';
    case 'conflict':
      return err.message && /user|email|taken/i.test(err.message) ? err.message : 'That is already taken.';
    case 'rate_limited':
      return `Too many attempts. Try again in ${err.retryAfter || 'a few'} seconds.`;
    case 'network':
      return 'Cannot reach the server.';
    default:
      return err.message || err.code;
  }
}

/** Runs fn once per animation frame at most. */
function batched(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      fn();
    });
  };
}

// ------------------------------------------------------------------ names and conversations

function userName(id) {
  if (id === me()) return client.user?.displayName || 'You';
  const u = client.cachedUser(id);
  if (!u) {
    resolveUser(id);
    return '…';
  }
  return u.displayName || u.username;
}
const resolving = new Set();
function resolveUser(id) {
  if (resolving.has(id)) return;
  resolving.add(id);
  client
    .getUser(id)
    .then(() => {
      renderList();
      if (S.current) renderHeader();
      rerenderLogSoon();
    })
    .catch(() => {})
    .finally(() => resolving.delete(id));
}

function typeOf(id) {
  return id.startsWith('dm-') ? 'direct' : id.startsWith('r-') ? 'room' : 'group';
}
function convTitle(c) {
  if (c.type === 'direct') {
    const peer = directPeer(c.id, me());
    return peer ? userName(peer) : 'Direct';
  }
  return c.name || (c.type === 'room' ? 'Room' : 'Group');
}

function upsertConv(c, { fromList = false } = {}) {
  const prev = S.convs.get(c.id);
  const next = {
    unread: 0,
    countedUpTo: undefined,
    ...prev,
    id: c.id,
    type: c.type || prev?.type || typeOf(c.id),
    name: c.name ?? prev?.name,
    memberCount: c.memberCount ?? prev?.memberCount,
    lastActivityAt: c.lastActivityAt || prev?.lastActivityAt || c.createdAt,
    createdBy: c.createdBy ?? prev?.createdBy,
    placeholder: false,
  };
  if (c.members) next.members = c.members;
  if (c.lastMessage && (!next.lastMessage || c.lastMessage.id >= next.lastMessage.id)) next.lastMessage = client.message(c.id, c.lastMessage.id) || c.lastMessage;
  if (fromList) {
    next.unread = c.unreadCount || 0;
    next.countedUpTo = c.lastMessage?.id;
  }
  // Only the list says whether the caller muted a conversation; other sources leave it as it was.
  if (typeof c.muted === 'boolean') next.muted = c.muted;
  S.convs.set(c.id, next);
  if (next.type === 'direct') {
    const peer = directPeer(c.id, me());
    if (peer && !client.cachedUser(peer)) resolveUser(peer);
  }
  return next;
}

/** A conversation this page has not seen yet (a first message, being added): a placeholder now, details after. */
function ensureConv(id) {
  let c = S.convs.get(id);
  if (c) return c;
  c = { id, type: typeOf(id), unread: 0, placeholder: true, lastActivityAt: new Date().toISOString() };
  S.convs.set(id, c);
  client
    .getConversation(id)
    .then((full) => {
      upsertConv(full);
      renderList();
      if (S.current === id) renderHeader();
    })
    .catch(() => {});
  return c;
}

async function loadConversations() {
  try {
    const list = await client.allConversations();
    const seen = new Set();
    for (const c of list) {
      upsertConv(c, { fromList: true });
      seen.add(c.id);
    }
    for (const id of [...S.convs.keys()]) if (!seen.has(id) && !S.convs.get(id).placeholder) S.convs.delete(id);
    renderList();
    if (S.current && !S.convs.has(S.current)) location.hash = '#/';
  } catch (err) {
    if (client.session) toast(`Could not load conversations: ${errorText(err)}`);
  }
}

// ------------------------------------------------------------------ conversation list

function convSortKey(c) {
  return c.lastMessage?.createdAt || c.lastActivityAt || '';
}

function previewText(c) {
  const m = c.lastMessage;
  if (!m) return c.type === 'room' ? 'Room' : c.type === 'group' ? 'Group' : 'No messages yet';
  const who = m.senderId === me() ? 'You: ' : c.type !== 'direct' ? `${userName(m.senderId)}: ` : '';
  if (m.deleted) return `${who}message deleted`;
  if (m.attachment) return `${who}${m.kind === 'voice' || m.attachment.kind === 'voice' ? 'voice note' : m.attachment.fileName}`;
  return who + (m.content || '');
}

const renderList = batched(() => {
  const ul = $('#conversation-list');
  const focused = document.activeElement?.closest?.('.conv-item')?.dataset.id;
  const convs = [...S.convs.values()].sort((a, b) => (convSortKey(b) > convSortKey(a) ? 1 : -1));
  ul.replaceChildren();
  if (!convs.length) ul.append(h('li', { class: 'empty' }, 'No conversations yet.'));
  for (const c of convs) {
    const title = convTitle(c);
    const peer = c.type === 'direct' ? directPeer(c.id, me()) : null;
    const online = peer ? client.presence(peer).online : undefined;
    const typers = client.typers(c.id);
    // The accessible name is the visible text plus hidden words for what dots and badges show.
    const hidden = [c.type !== 'direct' ? c.type : null, peer ? (online ? 'online' : 'offline') : null, c.unread ? `${c.unread} unread` : null].filter(Boolean);
    const btn = h(
      'button',
      {
        class: 'conv-item',
        type: 'button',
        dataset: { id: c.id },
        'aria-current': S.current === c.id ? 'true' : undefined,
        onclick: () => (location.hash = `#/c/${encodeURIComponent(c.id)}`),
      },
      avatar(title, peer || c.id, { online }),
      h(
        'span',
        { class: 'body' },
        h('span', { class: 'top' }, h('span', { class: 'name' }, title), h('span', { class: 'visually-hidden' }, `(${hidden.join(', ')})`), h('span', { class: 'time' }, shortTime(convSortKey(c)))),
        h(
          'span',
          { class: 'bottom' },
          typers.length ? h('span', { class: 'preview typing' }, 'typing…') : h('span', { class: 'preview' }, previewText(c)),
          c.unread ? h('span', { class: 'badge', 'aria-hidden': 'true' }, c.unread > 99 ? '99+' : String(c.unread)) : null,
        ),
      ),
    );
    ul.append(h('li', {}, btn));
  }
  if (focused) ul.querySelector(`.conv-item[data-id="${CSS.escape(focused)}"]`)?.focus();
});

$('#conversation-list').addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const items = [...document.querySelectorAll('.conv-item')];
  const i = items.indexOf(document.activeElement);
  if (i < 0) return;
  e.preventDefault();
  items[Math.max(0, Math.min(items.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))].focus();
});

// ------------------------------------------------------------------ views and routing

function showAuth(message) {
  selectTab('signin');
  $('#main-view').hidden = true;
  $('#auth-view').hidden = false;
  document.title = 'Chat: sign in';
  if (message) $('#signin-error').textContent = message;
  $('#signin-login').focus();
  markReady();
}

let mainStarted = false;
async function showMain() {
  $('#auth-view').hidden = true;
  $('#main-view').hidden = false;
  renderMe();
  client.connect();
  if (!mainStarted) {
    mainStarted = true;
    window.addEventListener('hashchange', route);
  }
  route();
  await loadConversations();
  markReady();
}

function markReady() {
  if (!document.documentElement.dataset.ready) {
    document.documentElement.dataset.ready = 'true';
    performance.mark('app-ready');
  }
}

function setPane(view) {
  S.view = view;
  $('#welcome-view').hidden = view !== 'welcome';
  $('#conversation-view').hidden = view !== 'conversation';
  $('#settings-view').hidden = view !== 'settings';
  $('#main-view').classList.toggle('pane-open', view !== 'welcome');
}

function route() {
  if (!client.session) return;
  const hash = location.hash;
  const m = /^#\/c\/(.+)$/.exec(hash);
  if (m) return openConversation(decodeURIComponent(m[1]));
  if (hash === '#/settings') return openSettings();
  S.current = null;
  setPane('welcome');
  document.title = 'Chat';
  renderList();
}

function renderMe() {
  const u = client.user;
  if (!u) return;
  $('#me-name').textContent = u.displayName || u.username;
  const a = $('#me-avatar');
  a.textContent = initials(u.displayName || u.username);
  a.style.background = colorFor(u.id);
}

const STATE_TEXT = {
  open: 'Online',
  connecting: 'Connecting…',
  waiting: 'Reconnecting…',
  offline: 'Offline',
  closed: 'Disconnected',
  idle: 'Disconnected',
};
function renderConnection(e = { state: client.state }) {
  const el = $('#conn-status');
  el.dataset.state = e.state;
  el.textContent = e.state === 'waiting' && e.delay ? `Reconnecting in ${Math.ceil(e.delay / 1000)} s…` : STATE_TEXT[e.state] || e.state;
  const banner = $('#conn-banner');
  banner.hidden = e.state === 'open' || e.state === 'connecting';
  banner.textContent = e.state === 'offline' ? 'You are offline. Messages you write are sent when you are back.' : 'Reconnecting… Messages you write are sent once connected.';
  if (S.view === 'settings') renderConnFacts();
}

// ------------------------------------------------------------------ one conversation

let logObserver = null;

async function openConversation(id) {
  const c = ensureConv(id);
  const switching = S.current !== id;
  S.current = id;
  setPane('conversation');
  renderList();
  renderHeader();
  if (switching) {
    resetComposer();
    renderLog({ scrollToEnd: true });
    $('#composer-input').focus({ preventScroll: true });
  }
  document.title = `${convTitle(c)} · Chat`;
  try {
    const before = client.messages(id).length;
    await client.refreshLatest(id);
    if (S.current !== id) return;
    renderLog({ scrollToEnd: switching || client.messages(id).length !== before });
    markReadCurrent();
  } catch (err) {
    if (err.code === 'not_found' || err.code === 'forbidden') {
      S.convs.delete(id);
      toast('That conversation is not available.');
      location.hash = '#/';
    }
  }
}

function renderHeader() {
  const c = S.convs.get(S.current);
  if (!c) return;
  const title = convTitle(c);
  $('#conv-title').textContent = title;
  const peer = c.type === 'direct' ? directPeer(c.id, me()) : null;
  const av = $('#conv-avatar');
  av.textContent = initials(title);
  av.style.background = colorFor(peer || c.id);
  const sub = $('#conv-sub');
  if (peer) {
    const p = client.presence(peer);
    sub.replaceChildren(h('span', { class: p.online ? 'presence online' : 'presence' }, lastSeenText(p)));
  } else {
    const n = c.memberCount ?? c.members?.length;
    sub.textContent = `${c.type === 'room' ? 'Room' : 'Group'}${n ? ` · ${n} member${n === 1 ? '' : 's'}` : ''}`;
  }
  for (const sel of ['#call-audio-btn', '#call-video-btn']) {
    const b = $(sel);
    b.hidden = !peer;
    setAvailable(b, S.caps.call, 'Calls are not served by this server yet.');
  }
  renderTyping();
}

function setAvailable(el, available, why) {
  if (available) {
    el.removeAttribute('aria-disabled');
    delete el.dataset.unavailable;
  } else {
    el.setAttribute('aria-disabled', 'true');
    el.dataset.unavailable = why;
  }
  el.title = available ? el.getAttribute('aria-label') || '' : why;
}
/** Buttons marked unavailable explain themselves instead of acting. */
document.addEventListener(
  'click',
  (e) => {
    const el = e.target.closest?.('[data-unavailable]');
    if (el) {
      e.preventDefault();
      e.stopImmediatePropagation();
      toast(el.dataset.unavailable);
    }
  },
  true,
);

function renderTyping() {
  const ids = S.current ? client.typers(S.current) : [];
  const names = ids.map(userName);
  $('#typing-line').textContent =
    names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…';
}

function statusIcon(status) {
  const labels = { pending: 'Sending', sent: 'Sent', delivered: 'Delivered', read: 'Read', failed: 'Not sent' };
  const name = status === 'pending' ? 'clock' : status === 'delivered' || status === 'read' ? 'check2' : 'check';
  return h('span', { class: 'ticks', dataset: { status }, title: labels[status] }, icon(name, labels[status] || status));
}

function attachmentView(m) {
  const a = m.attachment;
  if (!a) return null;
  const wrap = h('div', { class: 'attachment' });
  const fill = (url) => {
    wrap.replaceChildren();
    if (a.kind === 'voice' || m.kind === 'voice' || /^audio\//.test(a.contentType)) {
      wrap.append(h('audio', { controls: true, src: url, preload: 'metadata', 'aria-label': `Voice note${a.durationSec ? `, ${Math.round(a.durationSec)} seconds` : ''}` }));
    } else if (/^image\//.test(a.contentType)) {
      wrap.append(h('a', { href: url, target: '_blank', rel: 'noopener' }, h('img', { src: url, alt: a.fileName, loading: 'lazy' })));
    } else {
      wrap.append(h('a', { class: 'file', href: url, download: a.fileName, rel: 'noopener' }, icon('file'), `${a.fileName} (${humanSize(a.size)})`));
    }
  };
  const expired = !a.url || (a.urlExpiresAt && new Date(a.urlExpiresAt) < new Date(Date.now() + 30_000));
  if (!expired) fill(a.url);
  else {
    wrap.append(h('span', { class: 'hint' }, a.fileName || 'attachment'));
    client.getAttachment(a.id).then((fresh) => fill(fresh.url)).catch(() => {});
  }
  return wrap;
}

function messageView(m) {
  const mine = m.senderId === me();
  const c = S.convs.get(m.conversationId);
  const li = h('li', { class: `msg ${mine ? 'mine' : 'theirs'}`, dataset: { id: m.id } });
  const bubble = h('div', { class: 'bubble' });
  if (!mine && c && c.type !== 'direct') bubble.append(h('span', { class: 'sender' }, userName(m.senderId)));
  if (m.deleted) bubble.append(h('p', { class: 'text deleted' }, 'Message deleted'));
  else {
    if (m.content) bubble.append(h('p', { class: 'text' }, m.content));
    const att = attachmentView(m);
    if (att) bubble.append(att);
  }
  const meta = h('span', { class: 'meta' });
  if (m.editedAt && !m.deleted) meta.append(h('span', { class: 'edited' }, 'edited'));
  meta.append(h('time', { datetime: m.createdAt, title: fullFmt.format(new Date(m.createdAt)) }, timeFmt.format(new Date(m.createdAt))));
  if (mine && !m.deleted) meta.append(statusIcon(m.status || 'sent'));
  bubble.append(meta);
  li.append(bubble);
  if (mine && !m.deleted && m.kind !== 'auto') {
    li.append(
      h(
        'div',
        { class: 'msg-actions' },
        m.content !== null && !m.attachment
          ? h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Edit message', onclick: () => startEdit(m) }, icon('edit'))
          : null,
        h('button', { class: 'icon-btn', type: 'button', 'aria-label': 'Delete message', onclick: () => confirmDelete(m) }, icon('trash')),
      ),
    );
  }
  return li;
}

function pendingView(p) {
  const li = h('li', { class: `msg mine ${p.status === 'failed' ? 'failed' : 'pending'}`, dataset: { cid: p.clientMsgId } });
  const bubble = h('div', { class: 'bubble' }, h('p', { class: 'text' }, p.content || (p.attachmentId ? 'attachment' : '')));
  const meta = h('span', { class: 'meta' }, h('time', { datetime: p.createdAt }, timeFmt.format(new Date(p.createdAt))), statusIcon(p.status));
  bubble.append(meta);
  li.append(bubble);
  if (p.status === 'failed') {
    li.append(
      h(
        'div',
        { class: 'msg-actions', style: 'opacity:1' },
        h('span', { class: 'hint' }, p.error?.message || 'Not sent'),
        h('button', { class: 'btn small', type: 'button', onclick: () => client.retry(p.clientMsgId) }, 'Retry'),
        h('button', { class: 'btn small', type: 'button', onclick: () => client.discard(p.clientMsgId) }, 'Discard'),
      ),
    );
  }
  return li;
}

/** The focused control inside a message (so a re-render does not take a keyboard user's place). */
function focusedControl(root) {
  const el = document.activeElement;
  const msg = el?.closest?.('.msg');
  if (!msg || !root?.contains(msg)) return null;
  return { id: msg.dataset.id, cid: msg.dataset.cid, label: el.getAttribute('aria-label') };
}
function restoreFocus(log, f) {
  if (!f || (document.activeElement && document.activeElement !== document.body)) return;
  const msg = f.id ? log.querySelector(`.msg[data-id="${CSS.escape(f.id)}"]`) : log.querySelector(`.msg[data-cid="${CSS.escape(f.cid)}"]`);
  const target = (f.label && msg?.querySelector(`[aria-label="${CSS.escape(f.label)}"]`)) || null;
  target?.focus({ preventScroll: true });
}

function nearBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
}

/** Rebuilds the log (open, older page loaded); keeps the reader's place unless told to go to the end. */
function renderLog({ scrollToEnd = false } = {}) {
  const log = $('#message-log');
  const pane = $('#message-pane');
  const id = S.current;
  if (!id) return;
  const editingEl = log.querySelector('.edit-form')?.closest('.msg');
  const editing = editingEl?.dataset.id;
  const focus = focusedControl(log);
  const fromBottom = pane.scrollHeight - pane.scrollTop;
  const wasNearBottom = nearBottom(pane);
  const items = [];
  const older = client.hasOlder(id);
  const sentinel = h('li', { class: 'sentinel', 'aria-hidden': 'true' });
  items.push(older ? h('li', { class: 'loading', role: 'presentation' }, 'Loading older messages…') : null, sentinel);
  const msgs = client.messages(id);
  if (!msgs.length && !client.pending(id).length && !older) items.push(h('li', { class: 'empty', role: 'presentation' }, 'No messages yet. Say hello!'));
  for (const m of msgs) items.push(m.id === editing ? editingEl : messageView(m));
  for (const p of client.pending(id)) items.push(pendingView(p));
  log.replaceChildren(...items.filter(Boolean));
  restoreFocus(log, focus);
  if (scrollToEnd || wasNearBottom) pane.scrollTop = pane.scrollHeight;
  else pane.scrollTop = pane.scrollHeight - fromBottom;
  logObserver?.disconnect();
  if (older) {
    logObserver = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) loadOlder();
      },
      { root: pane, rootMargin: '200px 0px 0px 0px' },
    );
    logObserver.observe(sentinel);
  }
}
const rerenderLogSoon = batched(() => {
  if (S.current && S.view === 'conversation' && !$('#message-log .edit-form')) renderLog();
});

let loadingOlder = false;
async function loadOlder() {
  const id = S.current;
  if (loadingOlder || !id || !client.hasOlder(id)) return;
  loadingOlder = true;
  try {
    await client.loadOlder(id, { limit: 50 });
    if (S.current === id) renderLog();
  } catch (err) {
    toast(`Could not load older messages: ${errorText(err)}`);
  } finally {
    loadingOlder = false;
  }
}

/** Puts one message in place (new or changed) without rebuilding the log. */
function placeMessage(m) {
  const log = $('#message-log');
  const existing = log.querySelector(`.msg[data-id="${CSS.escape(m.id)}"]`);
  if (existing) {
    if (existing.querySelector('.edit-form')) return;
    const focus = focusedControl(existing.parentNode);
    existing.replaceWith(messageView(m));
    restoreFocus(log, focus);
    return;
  }
  const pane = $('#message-pane');
  const atEnd = nearBottom(pane) || m.senderId === me();
  log.querySelector('.empty')?.remove();
  const el = messageView(m);
  const later = [...log.querySelectorAll('.msg[data-id]')].find((x) => x.dataset.id > m.id);
  const firstPending = log.querySelector('.msg[data-cid]');
  log.insertBefore(el, later || firstPending || null);
  if (atEnd) pane.scrollTop = pane.scrollHeight;
}

function markReadCurrent() {
  const id = S.current;
  if (!id || S.view !== 'conversation' || document.visibilityState !== 'visible') return;
  const msgs = client.messages(id);
  const newestOther = [...msgs].reverse().find((m) => m.senderId !== me());
  const c = S.convs.get(id);
  if (newestOther) client.markRead(id, newestOther.id);
  if (c && c.unread) {
    c.unread = 0;
    renderList();
  }
}
document.addEventListener('visibilitychange', markReadCurrent);

// editing and deleting

function startEdit(m) {
  const li = $(`#message-log .msg[data-id="${CSS.escape(m.id)}"]`);
  if (!li) return;
  const bubble = li.querySelector('.bubble');
  const ta = h('textarea', { rows: 2, maxlength: 4000, 'aria-label': 'Edit message' });
  ta.value = m.content || '';
  const cancel = () => li.replaceWith(messageView(client.message(m.conversationId, m.id) || m));
  const save = async () => {
    const content = ta.value.trim();
    if (!content || content === m.content) return cancel();
    try {
      const updated = await client.editMessage(m.conversationId, m.id, content);
      li.replaceWith(messageView(client.message(m.conversationId, m.id) || updated));
    } catch (err) {
      toast(`Could not edit: ${errorText(err)}`);
    }
  };
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      save();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      cancel();
    }
  });
  const form = h(
    'div',
    { class: 'edit-form' },
    ta,
    h(
      'div',
      { class: 'row' },
      h('button', { class: 'btn small', type: 'button', onclick: cancel }, 'Cancel'),
      h('button', { class: 'btn small primary', type: 'button', onclick: save }, 'Save'),
    ),
  );
  bubble.replaceChildren(form);
  li.querySelector('.msg-actions')?.remove();
  ta.focus();
  ta.select();
}

async function confirmDelete(m) {
  const ok = await confirmDialog('Delete this message?', 'It is removed for everyone in the conversation.', 'Delete');
  if (!ok) return;
  try {
    await client.deleteMessage(m.conversationId, m.id);
  } catch (err) {
    toast(`Could not delete: ${errorText(err)}`);
  }
}

// ------------------------------------------------------------------ composer

const input = $('#composer-input');
function autoresize() {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight + 2, 160)}px`;
}
input.addEventListener('input', () => {
  autoresize();
  if (S.current && input.value.trim()) client.typing(S.current);
  else if (S.current) client.stopTyping(S.current);
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $('#composer').requestSubmit();
  }
});
$('#composer').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = S.current;
  if (!id) return;
  const content = input.value.trim();
  const attachment = S.attachment;
  if (!content && !attachment) return;
  if (content.length > 4000) return toast('A message is at most 4,000 characters.');
  input.value = '';
  autoresize();
  client.stopTyping(id);
  if (attachment) {
    await sendAttachment(id, attachment, content);
    return;
  }
  client.send({ conversationId: id, content }).catch((err) => toast(`Not sent: ${errorText(err)}`));
});

function resetComposer() {
  input.value = '';
  autoresize();
  clearAttachment();
}

function clearAttachment() {
  if (S.attachment?.previewUrl) URL.revokeObjectURL(S.attachment.previewUrl);
  S.attachment = null;
  const extra = $('#composer-extra');
  extra.replaceChildren();
  extra.hidden = true;
}

function showAttachment(att, { progress } = {}) {
  const extra = $('#composer-extra');
  const preview =
    att.kind === 'voice'
      ? h('audio', { controls: true, src: att.previewUrl, 'aria-label': 'Voice note preview' })
      : /^image\//.test(att.blob.type)
        ? h('img', { src: att.previewUrl, alt: '' })
        : icon('file');
  const chip = h(
    'span',
    { class: 'chip' },
    preview,
    h('span', {}, att.kind === 'voice' ? `Voice note, ${Math.round(att.durationSec)} s` : `${att.fileName} (${humanSize(att.blob.size)})`),
    progress !== undefined ? h('progress', { max: 1, value: progress, 'aria-label': 'Upload progress' }) : null,
    progress === undefined ? h('button', { class: 'btn small', type: 'button', onclick: clearAttachment, 'aria-label': 'Remove attachment' }, 'Remove') : null,
  );
  extra.replaceChildren(chip);
  extra.hidden = false;
}

async function sendAttachment(id, att, caption) {
  try {
    showAttachment(att, { progress: 0 });
    const bar = () => $('#composer-extra progress');
    await client.sendAttachment({ conversationId: id }, att.blob, {
      kind: att.kind,
      fileName: att.fileName,
      durationSec: att.durationSec,
      caption,
      onProgress: ({ loaded, total }) => {
        const b = bar();
        if (b) b.value = total ? loaded / total : 0;
      },
    });
    clearAttachment();
  } catch (err) {
    showAttachment(att);
    toast(`Attachment not sent: ${errorText(err)}`);
  }
}

$('#attach-btn').addEventListener('click', () => $('#file-input').click());
$('#file-input').addEventListener('change', (e) => {
  const file = e.target.files?.[0];
  e.target.value = '';
  if (!file) return;
  if (file.size > 10 * 1024 * 1024) return toast('Files are at most 10 MB.');
  clearAttachment();
  S.attachment = { blob: file, kind: 'file', fileName: file.name, previewUrl: URL.createObjectURL(file) };
  showAttachment(S.attachment);
  input.focus();
});

$('#voice-btn').addEventListener('click', async () => {
  const btn = $('#voice-btn');
  if (S.recorder) {
    S.recorder.stop();
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (err) {
    return toast('No microphone available.');
  }
  const type = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg'].find((t) => window.MediaRecorder?.isTypeSupported?.(t)) || '';
  const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  const chunks = [];
  const started = performance.now();
  recorder.ondataavailable = (e) => e.data.size && chunks.push(e.data);
  recorder.onstop = () => {
    for (const t of stream.getTracks()) t.stop();
    clearInterval(S.recorder?.timer);
    S.recorder = null;
    btn.setAttribute('aria-pressed', 'false');
    btn.setAttribute('aria-label', 'Record a voice note');
    const blob = new Blob(chunks, { type: recorder.mimeType || 'audio/webm' });
    const durationSec = Math.max(0.1, (performance.now() - started) / 1000);
    clearAttachment();
    S.attachment = { blob, kind: 'voice', durationSec, fileName: `voice-note-${Date.now()}.webm`, previewUrl: URL.createObjectURL(blob) };
    showAttachment(S.attachment);
  };
  recorder.start(250);
  S.recorder = recorder;
  btn.setAttribute('aria-pressed', 'true');
  btn.setAttribute('aria-label', 'Stop recording');
  const extra = $('#composer-extra');
  const label = h('span', { class: 'recording', role: 'status' }, 'Recording… 0 s');
  extra.replaceChildren(label);
  extra.hidden = false;
  S.recorder.timer = setInterval(() => {
    const s = Math.round((performance.now() - started) / 1000);
    label.textContent = `Recording… ${s} s`;
    if (s >= 300) recorder.stop();
  }, 500);
});

// ------------------------------------------------------------------ dialogs

const dialog = $('#dialog');
function openDialog(title, body, { onClose } = {}) {
  dialog.replaceChildren(h('div', { class: 'dialog-body' }, h('h2', { id: 'dialog-title' }, title), body));
  dialog.onclose = () => onClose?.();
  if (!dialog.open) dialog.showModal();
  dialog.querySelector('input, textarea, button:not([data-close])')?.focus();
}
function closeDialog() {
  if (dialog.open) dialog.close();
}
function confirmDialog(title, text, action) {
  return new Promise((resolve) => {
    let answered = false;
    const done = (v) => {
      answered = true;
      closeDialog();
      resolve(v);
    };
    openDialog(
      title,
      h(
        'div',
        {},
        h('p', {}, text),
        h(
          'div',
          { class: 'actions' },
          h('button', { class: 'btn', type: 'button', 'data-close': '', onclick: () => done(false) }, 'Cancel'),
          h('button', { class: 'btn primary', type: 'button', onclick: () => done(true) }, action),
        ),
      ),
      { onClose: () => !answered && resolve(false) },
    );
    dialog.querySelector('.btn.primary').focus();
  });
}

/** A user search box; calls onPick(user). */
function userSearch({ label, onPick, exclude = () => false }) {
  const id = `search-${Math.random().toString(36).slice(2, 7)}`;
  const field = h('input', { id, type: 'search', placeholder: 'Start of a username', autocomplete: 'off', 'aria-describedby': `${id}-status` });
  const status = h('p', { class: 'hint', id: `${id}-status`, role: 'status' });
  const results = h('ul', { class: 'results', 'aria-label': 'Matching users' });
  let timer;
  let seq = 0;
  field.addEventListener('input', () => {
    clearTimeout(timer);
    const q = field.value.trim();
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(q)) {
      results.replaceChildren();
      status.textContent = q ? 'Usernames use letters, digits, _ . -' : '';
      return;
    }
    timer = setTimeout(async () => {
      const mine = ++seq;
      try {
        const { users } = await client.searchUsers(q, { limit: 10 });
        if (mine !== seq) return;
        const list = users.filter((u) => u.id !== me() && !exclude(u));
        status.textContent = list.length ? `${list.length} found` : 'Nobody found';
        results.replaceChildren(
          ...list.map((u) =>
            h(
              'li',
              {},
              h(
                'button',
                {
                  type: 'button',
                  class: 'pick',
                  'aria-label': `${u.displayName} (@${u.username})`,
                  onclick: () => {
                    field.value = '';
                    results.replaceChildren();
                    status.textContent = '';
                    onPick(u);
                  },
                },
                avatar(u.displayName, u.id, { online: client.presence(u.id).online, small: true }),
                h('span', {}, h('strong', {}, u.displayName), ' ', h('span', { class: 'hint' }, `@${u.username}`)),
              ),
            ),
          ),
        );
      } catch (err) {
        status.textContent = errorText(err);
      }
    }, 200);
  });
  return h('div', { class: 'field' }, h('label', { for: id }, label), field, status, results);
}

$('#new-direct-btn').addEventListener('click', () => {
  openDialog(
    'New chat',
    h(
      'div',
      {},
      userSearch({
        label: 'Find someone',
        onPick: async (u) => {
          try {
            const c = await client.createDirect(u.id);
            upsertConv(c);
            closeDialog();
            location.hash = `#/c/${encodeURIComponent(c.id)}`;
          } catch (err) {
            toast(errorText(err));
          }
        },
      }),
      h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'button', 'data-close': '', onclick: closeDialog }, 'Close')),
    ),
  );
});

function nameForm({ label, submit, extra, onSubmit }) {
  const id = `name-${Math.random().toString(36).slice(2, 7)}`;
  const err = h('p', { class: 'error-text', role: 'alert' });
  const field = h('input', { id, type: 'text', required: true, maxlength: 100 });
  const form = h(
    'form',
    {
      onsubmit: async (e) => {
        e.preventDefault();
        const name = field.value.trim();
        if (!name) return (err.textContent = 'A name is needed.');
        try {
          await onSubmit(name);
        } catch (ex) {
          err.textContent = errorText(ex);
        }
      },
    },
    h('div', { class: 'field' }, h('label', { for: id }, label), field),
    extra,
    err,
    h(
      'div',
      { class: 'actions' },
      h('button', { class: 'btn', type: 'button', 'data-close': '', onclick: closeDialog }, 'Cancel'),
      h('button', { class: 'btn primary', type: 'submit' }, submit),
    ),
  );
  form.style.padding = '0';
  return form;
}

$('#new-group-btn').addEventListener('click', () => {
  const picked = new Map();
  const chips = h('div', { class: 'chips', 'aria-live': 'polite' });
  const renderChips = () =>
    chips.replaceChildren(
      ...[...picked.values()].map((u) =>
        h('span', { class: 'chip' }, u.displayName, h('button', { class: 'btn small', type: 'button', 'aria-label': `Remove ${u.displayName}`, onclick: () => (picked.delete(u.id), renderChips()) }, '×')),
      ),
    );
  openDialog(
    'New group',
    nameForm({
      label: 'Group name',
      submit: 'Create group',
      extra: h('div', {}, userSearch({ label: 'Add members', onPick: (u) => (picked.set(u.id, u), renderChips()), exclude: (u) => picked.has(u.id) }), chips),
      onSubmit: async (name) => {
        const c = await client.createGroup(name, [...picked.keys()]);
        upsertConv(c);
        closeDialog();
        location.hash = `#/c/${encodeURIComponent(c.id)}`;
      },
    }),
  );
});

$('#new-room-btn').addEventListener('click', () => {
  openDialog(
    'New public room',
    nameForm({
      label: 'Room name',
      submit: 'Create room',
      extra: h('p', { class: 'hint' }, 'Anyone with the room id can read it and join.'),
      onSubmit: async (name) => {
        const c = await client.createRoom(name);
        upsertConv(c);
        closeDialog();
        location.hash = `#/c/${encodeURIComponent(c.id)}`;
      },
    }),
  );
});

$('#join-room-btn').addEventListener('click', () => {
  const err = h('p', { class: 'error-text', role: 'alert' });
  const field = h('input', { id: 'join-room-id', type: 'text', required: true, placeholder: 'r-…', autocomplete: 'off', spellcheck: 'false' });
  openDialog(
    'Join a room',
    h(
      'form',
      {
        style: 'padding:0',
        onsubmit: async (e) => {
          e.preventDefault();
          const id = field.value.trim();
          if (!/^r-[A-Za-z0-9]+$/.test(id)) return (err.textContent = 'Room ids look like r-01J….');
          try {
            await client.join(id);
            const c = await client.getConversation(id);
            upsertConv(c);
            closeDialog();
            location.hash = `#/c/${encodeURIComponent(id)}`;
          } catch (ex) {
            err.textContent = ex.code === 'not_found' ? 'No room with that id.' : errorText(ex);
          }
        },
      },
      h('div', { class: 'field' }, h('label', { for: 'join-room-id' }, 'Room id'), field, h('span', { class: 'hint' }, 'Ask a member: it is shown under Members.')),
      err,
      h(
        'div',
        { class: 'actions' },
        h('button', { class: 'btn', type: 'button', 'data-close': '', onclick: closeDialog }, 'Cancel'),
        h('button', { class: 'btn primary', type: 'submit' }, 'Join'),
      ),
    ),
  );
});

$('#members-btn').addEventListener('click', () => openMembers(S.current));

async function openMembers(id) {
  const c = S.convs.get(id);
  if (!c) return;
  const body = h('div', {}, h('p', { class: 'hint' }, 'Loading…'));
  openDialog(c.type === 'direct' ? 'Conversation' : `Members of ${convTitle(c)}`, body);
  let full;
  try {
    full = await client.getConversation(id);
    upsertConv(full);
  } catch (err) {
    body.replaceChildren(h('p', { class: 'error-text' }, errorText(err)));
    return;
  }
  const mine = full.members.find((m) => m.userId === me());
  const owner = mine?.role === 'owner';
  await Promise.all(full.members.map((m) => client.getUser(m.userId).catch(() => null)));
  const rows = full.members.map((m) =>
    h(
      'li',
      { class: 'member-row', dataset: { userId: m.userId } },
      avatar(userName(m.userId), m.userId, { online: client.presence(m.userId).online, small: true }),
      h(
        'span',
        { class: 'grow' },
        h('strong', {}, userName(m.userId)),
        m.userId === me() ? ' (you)' : '',
        h('br'),
        h('span', { class: 'hint' }, `${m.role}${client.presence(m.userId).online ? ' · online' : ''}`),
      ),
      owner && m.userId !== me() && full.type !== 'direct'
        ? h(
            'button',
            {
              class: 'btn small danger',
              type: 'button',
              onclick: async () => {
                try {
                  await client.removeMember(id, m.userId);
                  openMembers(id);
                } catch (err) {
                  toast(errorText(err));
                }
              },
            },
            'Remove',
          )
        : null,
    ),
  );
  const parts = [h('ul', { class: 'results', 'aria-label': 'Members' }, rows)];
  if (full.type === 'room') {
    parts.unshift(
      h(
        'p',
        {},
        'Room id: ',
        h('code', { id: 'room-id' }, full.id),
        ' ',
        h('button', { class: 'btn small', type: 'button', onclick: () => navigator.clipboard?.writeText(full.id).then(() => toast('Room id copied'), () => toast(full.id)) }, 'Copy'),
      ),
    );
  }
  if (full.type === 'group') {
    parts.push(
      userSearch({
        label: 'Add someone',
        exclude: (u) => full.members.some((m) => m.userId === u.id),
        onPick: async (u) => {
          try {
            await client.addMember(id, u.id);
            openMembers(id);
          } catch (err) {
            toast(errorText(err));
          }
        },
      }),
    );
  }
  const actions = h('div', { class: 'actions' });
  if (full.type !== 'direct') {
    actions.append(
      h(
        'button',
        {
          class: 'btn danger',
          type: 'button',
          onclick: async () => {
            try {
              await client.leave(id);
              S.convs.delete(id);
              closeDialog();
              location.hash = '#/';
              renderList();
            } catch (err) {
              toast(errorText(err));
            }
          },
        },
        full.type === 'room' ? 'Leave room' : 'Leave group',
      ),
    );
  }
  actions.append(h('button', { class: 'btn', type: 'button', 'data-close': '', onclick: closeDialog }, 'Close'));
  parts.push(actions);
  body.replaceChildren(...parts);
}

// random matching

$('#match-btn').addEventListener('click', async () => {
  if (S.matching) return;
  S.matching = true;
  const status = h('p', { role: 'status' }, 'Looking for someone to talk to…');
  openDialog(
    'Meet someone',
    h(
      'div',
      {},
      status,
      h(
        'div',
        { class: 'actions' },
        h(
          'button',
          {
            class: 'btn',
            type: 'button',
            onclick: () => {
              client.cancelMatch().catch(() => {});
              closeDialog();
            },
          },
          'Cancel',
        ),
      ),
    ),
    { onClose: () => (S.matching = false) },
  );
  try {
    await client.match();
  } catch (err) {
    status.textContent = errorText(err);
    S.matching = false;
  }
});
client.on('match.found', (e) => {
  S.matching = false;
  closeDialog();
  if (e.user) client.getUser(e.user.id).catch(() => {});
  ensureConv(e.conversationId);
  toast(`You are talking with ${e.user?.displayName || 'someone new'}.`);
  location.hash = `#/c/${encodeURIComponent(e.conversationId)}`;
});

// ------------------------------------------------------------------ calls

function showCall(call) {
  S.call = call;
  const view = $('#call-view');
  view.hidden = false;
  $('#call-title').textContent = `${call.video ? 'Video call' : 'Call'} with ${userName(call.peer)}`;
  const state = () => ($('#call-state').textContent = { calling: 'Calling…', ringing: 'Ringing…', connecting: 'Connecting…', connected: 'Connected', ended: 'Call ended' }[call.state] || call.state);
  state();
  view.dataset.state = call.state;
  call.on('state', () => {
    state();
    view.dataset.state = call.state;
  });
  call.on('local-stream', ({ stream }) => ($('#local-video').srcObject = stream));
  call.on('remote-stream', ({ stream }) => ($('#remote-video').srcObject = stream));
  // An outgoing call has its camera before this view exists.
  if (call.localStream) $('#local-video').srcObject = call.localStream;
  if (call.remoteStream) $('#remote-video').srcObject = call.remoteStream;
  call.on('ended', () => {
    setTimeout(() => {
      if (S.call === call) {
        view.hidden = true;
        S.call = null;
        $('#local-video').srcObject = null;
        $('#remote-video').srcObject = null;
      }
    }, 800);
  });
  $('#hangup-btn').focus();
}
$('#hangup-btn').addEventListener('click', () => S.call?.end());
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && S.call && !$('#call-view').hidden) S.call.end();
});

async function startCall(video) {
  const c = S.convs.get(S.current);
  const peer = c && directPeer(c.id, me());
  if (!peer) return;
  try {
    const call = await client.startCall(peer, { video });
    showCall(call);
  } catch (err) {
    toast(`Call failed: ${errorText(err)}`);
  }
}
$('#call-audio-btn').addEventListener('click', () => startCall(false));
$('#call-video-btn').addEventListener('click', () => startCall(true));

client.on('incoming-call', ({ call, from }) => {
  if (S.call) return call.reject();
  openDialog(
    `${userName(from)} is calling`,
    h(
      'div',
      {},
      h('p', {}, call.video ? 'Video call' : 'Voice call'),
      h(
        'div',
        { class: 'actions' },
        h('button', { class: 'btn danger', type: 'button', onclick: () => (call.reject(), closeDialog()) }, 'Decline'),
        h(
          'button',
          {
            class: 'btn primary',
            type: 'button',
            id: 'accept-call-btn',
            onclick: async () => {
              closeDialog();
              showCall(call);
              try {
                await call.accept();
              } catch (err) {
                toast(`Call failed: ${errorText(err)}`);
                call.end('failed');
              }
            },
          },
          'Accept',
        ),
      ),
    ),
  );
  call.on('ended', () => {
    if (call.state === 'ended' && S.call !== call) closeDialog();
  });
});

// ------------------------------------------------------------------ settings

async function openSettings() {
  S.current = null;
  setPane('settings');
  renderList();
  document.title = 'Settings · Chat';
  const u = client.user;
  $('#profile-name').value = u?.displayName || '';
  $('#profile-facts').replaceChildren(
    h('dt', {}, 'Username'),
    h('dd', {}, `@${u?.username}`),
    h('dt', {}, 'Email'),
    h('dd', {}, u?.email || '—'),
    h('dt', {}, 'Member since'),
    h('dd', {}, u?.createdAt ? fullFmt.format(new Date(u.createdAt)) : '—'),
  );
  renderConnFacts();
  renderMuteList();
  renderDevices();
  $('#profile-name').focus();
}

function renderConnFacts() {
  const s = client.session;
  $('#conn-facts').replaceChildren(
    h('dt', {}, 'State'),
    h('dd', { id: 'conn-state-fact' }, STATE_TEXT[client.state] || client.state),
    h('dt', {}, 'HTTP API'),
    h('dd', {}, client.httpUrl),
    h('dt', {}, 'WebSocket'),
    h('dd', {}, client.wsUrl),
    h('dt', {}, 'Token on the socket'),
    h('dd', {}, client.options.tokenTransport === 'subprotocol' ? 'Sec-WebSocket-Protocol' : '?token= query string'),
    h('dt', {}, 'Session renews'),
    h('dd', {}, s ? `before ${timeFmt.format(new Date(s.expiresAt))}` : '—'),
    h('dt', {}, 'Client library'),
    h('dd', {}, `chat-client.js ${VERSION}`),
  );
}

function renderMuteList() {
  const list = $('#mute-list');
  $('#mute-notice').hidden = S.caps.mute || !S.capsKnown;
  const convs = [...S.convs.values()].sort((a, b) => (convSortKey(b) > convSortKey(a) ? 1 : -1));
  list.replaceChildren(
    ...convs.map((c) => {
      const id = `mute-${c.id}`;
      const box = h('input', { type: 'checkbox', id, disabled: !S.caps.mute, checked: c.muted });
      box.addEventListener('change', async () => {
        try {
          await client.setMuted(c.id, box.checked);
          c.muted = box.checked;
        } catch (err) {
          box.checked = !box.checked;
          toast(errorText(err));
        }
      });
      return h('li', {}, h('label', { class: 'switch', for: id }, box, `Mute ${convTitle(c)}`));
    }),
  );
  if (!convs.length) list.append(h('li', { class: 'hint' }, 'No conversations yet.'));
}

async function renderDevices() {
  const list = $('#device-list');
  $('#devices-notice').hidden = S.caps.devices || !S.capsKnown;
  setAvailable($('#register-device-btn'), S.caps.devices, 'Devices are not served by this server yet.');
  if (!S.caps.devices) {
    list.replaceChildren(h('li', { class: 'hint' }, `This browser: ${client.deviceId()}`));
    return;
  }
  try {
    const devices = await client.listDevices();
    list.replaceChildren(
      ...devices.map((d) =>
        h(
          'li',
          {},
          h('span', {}, h('strong', {}, d.name || d.platform), d.deviceId === client.deviceId() ? ' (this browser)' : '', h('br'), h('span', { class: 'hint' }, [d.lastSeenAt ? `seen ${shortTime(d.lastSeenAt)}` : '', d.lastIp || ''].filter(Boolean).join(' · '))),
          h('button', { class: 'btn small danger', type: 'button', onclick: async () => (await client.deleteDevice(d.deviceId).catch((e) => toast(errorText(e))), renderDevices()) }, 'Remove'),
        ),
      ),
    );
    if (!devices.length) list.append(h('li', { class: 'hint' }, 'No devices registered.'));
  } catch (err) {
    list.replaceChildren(h('li', { class: 'error-text' }, errorText(err)));
  }
}

$('#register-device-btn').addEventListener('click', async () => {
  try {
    await client.registerDevice({ deviceId: client.deviceId(), platform: 'web', name: navigator.userAgent.includes('Chrome') ? 'Chromium browser' : 'Web browser' });
    renderDevices();
  } catch (err) {
    toast(errorText(err));
  }
});

$('#profile-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $('#profile-name').value.trim();
  const msg = $('#profile-msg');
  if (!name) return (msg.textContent = 'A display name is needed.');
  try {
    await client.updateMe({ displayName: name });
    msg.textContent = 'Saved.';
    msg.style.color = 'var(--ok)';
    renderMe();
  } catch (err) {
    msg.style.color = '';
    msg.textContent = errorText(err);
  }
});

$('#logout-btn').addEventListener('click', async () => {
  await client.logout();
  S.convs.clear();
  S.current = null;
  history.replaceState(null, '', location.pathname + location.search);
  showAuth();
});

$('#back-btn').addEventListener('click', () => (location.hash = '#/'));

// ------------------------------------------------------------------ sign in / sign up

function selectTab(which) {
  const signin = which === 'signin';
  $('#tab-signin').setAttribute('aria-selected', String(signin));
  $('#tab-signup').setAttribute('aria-selected', String(!signin));
  $('#tab-signin').tabIndex = signin ? 0 : -1;
  $('#tab-signup').tabIndex = signin ? -1 : 0;
  $('#signin-form').hidden = !signin;
  $('#signup-form').hidden = signin;
}
$('#tab-signin').addEventListener('click', () => selectTab('signin'));
$('#tab-signup').addEventListener('click', () => selectTab('signup'));
$('.tabs').addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
  const next = document.activeElement === $('#tab-signin') ? 'signup' : 'signin';
  selectTab(next);
  $(`#tab-${next}`).focus();
});

$('#signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  const err = $('#signin-error');
  err.textContent = '';
  if (!f.login.value.trim() || !f.password.value) return (err.textContent = 'Enter your username (or email) and password.');
  const btn = f.querySelector('button[type=submit]');
  btn.disabled = true;
  try {
    await client.login({ login: f.login.value.trim(), password: f.password.value });
    f.reset();
    await showMain();
  } catch (ex) {
    err.textContent = errorText(ex);
  } finally {
    btn.disabled = false;
  }
});

$('#signup-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = e.target;
  const err = $('#signup-error');
  err.textContent = '';
  const username = f.username.value.trim();
  if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username)) return (err.textContent = 'Usernames are 3–32 letters, digits, _ . or -.');
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(f.email.value.trim())) return (err.textContent = 'Enter a valid email.');
  if (f.password.value.length < 8) return (err.textContent = 'Passwords have at least 8 characters.');
  const btn = f.querySelector('button[type=submit]');
  btn.disabled = true;
  try {
    await client.register({ username, email: f.email.value.trim(), password: f.password.value, displayName: f.displayName.value.trim() || undefined });
    f.reset();
    await showMain();
  } catch (ex) {
    err.textContent = errorText(ex);
  } finally {
    btn.disabled = false;
  }
});

// ------------------------------------------------------------------ library events

client.on('state', (e) => {
  renderConnection(e);
  if (e.state === 'open') {
    client.capabilities().then((caps) => {
      S.caps = { ...caps, ...(config.features || {}) };
      S.capsKnown = true;
      applyCapabilities();
    });
  }
});

function applyCapabilities() {
  setAvailable($('#attach-btn'), S.caps.uploads, 'Attachments are not served by this server yet.');
  setAvailable($('#voice-btn'), S.caps.uploads, 'Voice notes are not served by this server yet.');
  setAvailable($('#match-btn'), S.caps.match, 'Random matching is not served by this server yet.');
  if (S.current) renderHeader();
  if (S.view === 'settings') {
    renderMuteList();
    renderDevices();
  }
}

client.on('session', (e) => {
  if (!e.session && e.reason !== 'signed-out') {
    S.convs.clear();
    S.current = null;
    showAuth(e.reason === 'expired' ? 'Your session ended. Please sign in again.' : 'You were signed out.');
  }
  if (e.session) renderMe();
});

client.on('message', ({ message: m, source }) => {
  const c = ensureConv(m.conversationId);
  if (!c.lastMessage || m.id >= c.lastMessage.id) {
    c.lastMessage = m;
    c.lastActivityAt = m.createdAt;
  }
  const isCurrent = S.current === m.conversationId && S.view === 'conversation';
  if (m.senderId !== me() && (source === 'live' || source === 'sync') && (!c.countedUpTo || m.id > c.countedUpTo)) {
    c.countedUpTo = m.id;
    if (!(isCurrent && document.visibilityState === 'visible')) c.unread = (c.unread || 0) + 1;
  }
  if (isCurrent) {
    placeMessage(m);
    if (m.senderId !== me()) markReadCurrent();
  }
  renderList();
});

client.on('update', ({ message: m }) => {
  const c = S.convs.get(m.conversationId);
  if (c?.lastMessage?.id === m.id) c.lastMessage = m;
  if (S.current === m.conversationId && S.view === 'conversation') placeMessage(m);
  renderList();
});

client.on('outbox', ({ sent }) => {
  if (!S.current || S.view !== 'conversation') return;
  const log = $('#message-log');
  if (sent) log.querySelector(`.msg[data-cid="${CSS.escape(sent.clientMsgId)}"]`)?.remove();
  for (const el of log.querySelectorAll('.msg[data-cid]')) el.remove();
  for (const p of client.pending(S.current)) log.append(pendingView(p));
  if (client.pending(S.current).length) $('#message-pane').scrollTop = $('#message-pane').scrollHeight;
});

client.on('typers', ({ conversationId }) => {
  if (conversationId === S.current) renderTyping();
  renderList();
});

client.on('presence.changed', ({ userId }) => {
  renderList();
  const c = S.convs.get(S.current);
  if (c && directPeer(c.id, me()) === userId) renderHeader();
});

client.on('read-pointer', ({ conversationId }) => {
  const c = S.convs.get(conversationId);
  if (c && c.unread) {
    const last = c.lastMessage;
    const p = client.pointer(conversationId, me());
    if (!last || (p.read && p.read >= last.id)) {
      c.unread = 0;
      renderList();
    }
  }
});

client.on('member.joined', (e) => {
  if (e.userId === me()) {
    ensureConv(e.conversationId);
    renderList();
  } else {
    const c = S.convs.get(e.conversationId);
    if (c && c.memberCount !== undefined && !e.requestId) c.memberCount += 1;
    if (S.current === e.conversationId) renderHeader();
  }
});

client.on('member.left', (e) => {
  const c = S.convs.get(e.conversationId);
  if (e.userId === me()) {
    if (c && !e.requestId && e.by !== me()) toast(`You were removed from ${convTitle(c)}.`);
    S.convs.delete(e.conversationId);
    if (S.current === e.conversationId) location.hash = '#/';
    renderList();
  } else if (c) {
    if (c.memberCount) c.memberCount -= 1;
    if (S.current === e.conversationId) renderHeader();
  }
});

client.on('synced', () => {
  // The list (unread counts, last messages, conversations joined meanwhile) and the open
  // conversation's newest page (edits and deletions that sync does not carry).
  loadConversations();
  if (S.current && S.view === 'conversation') client.refreshLatest(S.current).then(rerenderLogSoon).catch(() => {});
});

client.on('cleared', ({ conversationId }) => {
  if (conversationId === S.current) renderLog();
});

client.on('error', (e) => {
  if (!e.requestId && e.code === 'rate_limited') toast(`Slow down: try again in ${e.retryAfter || 1} s.`);
});

// ------------------------------------------------------------------ start

renderConnection();
applyCapabilities();
if (client.session) showMain();
else showAuth();

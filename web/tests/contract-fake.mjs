// CHAT_WEB_TESTS=fake: a stand-in for what issue 10 adds to the server, installed in each
// browser context with Playwright's request and WebSocket routes, in front of the real
// backend. It lets the pending tests exercise the client side of attachments, voice notes,
// calls, matching, devices and mute today. It proves the web client, NOT the server: a pass in
// this mode is never a pass of the pending tests (those need CHAT_WEB_TESTS=all against a
// server that serves the features).
//
// What it fakes, per contract §4-§5:
//   POST /uploads, PUT/GET of the bytes (an in-memory "S3" at <httpUrl>/_fake-s3/<id>),
//   GET /attachments/{id}, `attachmentId` on `send` (carried through the real server as a
//   marker in `content`, turned back into `attachment` on the way out), POST/GET/DELETE
//   /me/devices, PATCH /conversations/{id}/me, GET /users/available, the `call` relay and
//   `match`/`match.cancel`, and an OpenAPI document that lists those paths.
// Everything else goes to the real server untouched.

const MARK = '\u2063att:'; // an invisible separator, then the attachment id, then '|' and the caption

function userOf(token) {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sub;
  } catch {
    return null;
  }
}

export function createFakeState() {
  return { blobs: new Map(), attachments: new Map(), devices: new Map(), sockets: new Map(), tokens: new Map(), waiting: [], seq: 0 };
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': 'authorization,content-type',
  'access-control-allow-methods': 'GET,POST,PUT,PATCH,DELETE,OPTIONS',
};

export async function installFake(context, { httpUrl, wsUrl, state }) {
  const json = (route, status, body) => route.fulfill({ status, headers: { ...CORS, 'content-type': 'application/json' }, body: body === undefined ? '' : JSON.stringify(body) });
  const fromMarker = (m) => {
    if (!m || typeof m !== 'object') return m;
    if (Array.isArray(m)) return m.map(fromMarker);
    const out = {};
    for (const [k, v] of Object.entries(m)) out[k] = typeof v === 'object' && v !== null ? fromMarker(v) : v;
    if (typeof out.content === 'string' && out.content.startsWith(MARK) && out.conversationId) {
      const [id, ...rest] = out.content.slice(MARK.length).split('|');
      const a = state.attachments.get(id);
      const caption = rest.join('|');
      out.content = caption || null;
      if (a) {
        out.kind = a.kind;
        out.attachment = { id, kind: a.kind, fileName: a.fileName, contentType: a.contentType, size: a.size, ...(a.durationSec ? { durationSec: a.durationSec } : {}), url: `${httpUrl}/_fake-s3/${id}`, urlExpiresAt: new Date(Date.now() + 3600_000).toISOString() };
      }
    }
    return out;
  };

  await context.route(
    (url) => url.href.startsWith(httpUrl),
    (route) =>
      handleHttp(route).catch((err) => {
        // The context closed with the request in flight (end of a test): nothing to answer.
        if (!/disposed|closed/i.test(String(err?.message))) throw err;
      }),
  );
  async function handleHttp(route) {
      const req = route.request();
      const url = new URL(req.url());
      const path = url.pathname;
      const method = req.method();
      if (method === 'OPTIONS') return route.fulfill({ status: 204, headers: { ...CORS, 'access-control-max-age': '600' } });
      const token = (req.headers().authorization || '').replace(/^Bearer /, '');
      const me = userOf(token);
      const body = () => {
        try {
          return JSON.parse(req.postData() || '{}');
        } catch {
          return {};
        }
      };
      let m;
      if (path === '/openapi.json') {
        const real = await route.fetch();
        const doc = await real.json();
        const op = (summary) => ({ summary, responses: { 200: { description: 'ok' } } });
        doc.paths['/uploads'] = { post: op('Start an upload') };
        doc.paths['/attachments/{id}'] = { get: op('An attachment') };
        doc.paths['/me/devices'] = { get: op('Devices'), post: op('Register a device') };
        doc.paths['/me/devices/{deviceId}'] = { delete: op('Remove a device') };
        doc.paths['/conversations/{id}/me'] = { patch: op('Mute') };
        doc.paths['/users/available'] = { get: op('Waiting for a match') };
        return json(route, 200, doc);
      }
      if (path === '/uploads' && method === 'POST') {
        const b = body();
        const id = `att-${++state.seq}-${Date.now().toString(36)}`;
        if (!b.size || b.size > 10 * 1024 * 1024) return json(route, 413, { error: { code: 'payload_too_large', message: 'at most 10 MB' } });
        state.attachments.set(id, { ...b, uploader: me, uploaded: false });
        return json(route, 201, { attachmentId: id, uploadUrl: `${httpUrl}/_fake-s3/${id}`, uploadHeaders: { 'content-type': b.contentType }, expiresIn: 900 });
      }
      if ((m = /^\/_fake-s3\/(.+)$/.exec(path))) {
        const a = state.attachments.get(m[1]);
        if (!a) return route.fulfill({ status: 404, headers: CORS, body: 'NoSuchKey' });
        if (method === 'PUT') {
          const bytes = req.postDataBuffer() || Buffer.alloc(0);
          if (bytes.length !== a.size) return route.fulfill({ status: 400, headers: CORS, body: 'size mismatch' });
          state.blobs.set(m[1], bytes);
          a.uploaded = true;
          return route.fulfill({ status: 200, headers: CORS, body: '' });
        }
        const bytes = state.blobs.get(m[1]);
        if (!bytes) return route.fulfill({ status: 404, headers: CORS, body: 'NoSuchKey' });
        return route.fulfill({ status: 200, headers: { ...CORS, 'content-type': a.contentType, 'accept-ranges': 'none' }, body: bytes });
      }
      if ((m = /^\/attachments\/(.+)$/.exec(path)) && method === 'GET') {
        const out = fromMarker({ conversationId: 'x', content: `${MARK}${m[1]}|` });
        if (!out.attachment) return json(route, 404, { error: { code: 'not_found', message: 'attachment not found' } });
        return json(route, 200, { attachment: out.attachment });
      }
      if (path === '/me/devices' || path.startsWith('/me/devices/')) {
        if (!state.devices.has(me)) state.devices.set(me, new Map());
        const mine = state.devices.get(me);
        if (method === 'GET') return json(route, 200, { devices: [...mine.values()] });
        if (method === 'POST') {
          const b = body();
          const existed = mine.has(b.deviceId);
          const d = { ...mine.get(b.deviceId), ...b, lastSeenAt: new Date().toISOString(), lastIp: '127.0.0.1', userAgent: req.headers()['user-agent'] };
          mine.set(b.deviceId, d);
          return json(route, existed ? 200 : 201, d);
        }
        if (method === 'DELETE') {
          mine.delete(decodeURIComponent(path.split('/').pop()));
          return json(route, 204);
        }
      }
      if ((m = /^\/conversations\/([^/]+)\/me$/.exec(path)) && method === 'PATCH') {
        return json(route, 200, { userId: me, conversationId: decodeURIComponent(m[1]), muted: Boolean(body().muted) });
      }
      if (path === '/users/available' && method === 'GET') return json(route, 200, { waiting: state.waiting.length });
      // The real server, with attachment markers turned back into attachments.
      const real = await route.fetch();
      const type = real.headers()['content-type'] || '';
      if (!type.includes('application/json')) return route.fulfill({ response: real });
      const text = await real.text();
      return route.fulfill({ response: real, body: text ? JSON.stringify(fromMarker(JSON.parse(text))) : '' });
  }

  await context.routeWebSocket(
    (url) => url.href.startsWith(wsUrl),
    (ws) => {
      const token = new URL(ws.url()).searchParams.get('token') || '';
      const me = userOf(token);
      const server = ws.connectToServer();
      if (!state.sockets.has(me)) state.sockets.set(me, new Set());
      state.sockets.get(me).add(ws);
      state.tokens.set(me, token);
      const answer = (event) => ws.send(JSON.stringify(event));
      ws.onClose(() => {
        state.sockets.get(me)?.delete(ws);
        state.waiting = state.waiting.filter((w) => w.ws !== ws);
        server.close();
      });
      server.onClose((code, reason) => ws.close({ code, reason }));
      server.onMessage((msg) => {
        try {
          ws.send(JSON.stringify(fromMarker(JSON.parse(String(msg)))));
        } catch {
          ws.send(msg);
        }
      });
      ws.onMessage(async (msg) => {
        let f;
        try {
          f = JSON.parse(String(msg));
        } catch {
          return server.send(msg);
        }
        if (f.action === 'send' && f.attachmentId) {
          const a = state.attachments.get(f.attachmentId);
          if (!a || !a.uploaded || a.uploader !== me) return answer({ type: 'error', code: 'invalid_input', message: 'attachment not uploaded', requestId: f.requestId });
          const { attachmentId, ...rest } = f;
          return server.send(JSON.stringify({ ...rest, content: `${MARK}${attachmentId}|${f.content || ''}` }));
        }
        if (f.action === 'call') {
          if (f.to === me) return answer({ type: 'error', code: 'invalid_input', message: '`to` is the caller', requestId: f.requestId });
          const targets = state.sockets.get(f.to);
          if (!targets?.size) return answer({ type: 'error', code: 'not_found', message: 'callee not connected', requestId: f.requestId });
          for (const t of targets) t.send(JSON.stringify({ type: 'call', from: me, callId: f.callId, signal: f.signal, data: f.data }));
          return;
        }
        if (f.action === 'match.cancel') {
          state.waiting = state.waiting.filter((w) => w.user !== me);
          return;
        }
        if (f.action === 'match') {
          const other = state.waiting.find((w) => w.user !== me);
          if (!other) {
            if (!state.waiting.some((w) => w.user === me)) state.waiting.push({ user: me, ws });
            return answer({ type: 'match.waiting', requestId: f.requestId });
          }
          state.waiting = state.waiting.filter((w) => w !== other);
          answer({ type: 'match.waiting', requestId: f.requestId });
          const post = await fetch(`${httpUrl}/conversations`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'direct', userId: other.user }) });
          const conv = await post.json();
          const user = async (id) => (await fetch(`${httpUrl}/users/${id}`, { headers: { authorization: `Bearer ${token}` } })).json();
          const [meUser, otherUser] = await Promise.all([user(me), user(other.user)]);
          answer({ type: 'match.found', conversationId: conv.id, user: otherUser });
          other.ws.send(JSON.stringify({ type: 'match.found', conversationId: conv.id, user: meUser }));
          return;
        }
        server.send(msg);
      });
    },
  );
}

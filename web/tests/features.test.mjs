// The features of contract §4/§5 beyond plain chat, in the app against the real server:
// attachments, voice notes, a call through the server's `call` relay, random matching, devices,
// mute, the subprotocol token.
import { deflateSync } from 'node:zlib';
import { assert, assertEqual, eventually, sleep } from './context.mjs';

async function twoPeople(T) {
  const pa = await T.newPage('A');
  const pb = await T.newPage('B');
  const a = await T.signUp(pa, 'pa', 'Ada Lovelace');
  const b = await T.signUp(pb, 'pb', 'Bob Babbage');
  await pa.click('#new-direct-btn');
  await pa.fill('dialog input[type=search]', b.username);
  await pa.locator('dialog .results button', { hasText: 'Bob Babbage' }).click();
  await pa.waitForFunction(() => document.querySelector('#conv-title')?.textContent === 'Bob Babbage');
  await T.sendText(pa, 'Hi');
  await T.openConversation(pb, 'Ada Lovelace');
  await T.waitText(pb, 'Hi');
  return { pa, pb, a, b };
}

/** Fails at once, saying what is missing, when the server does not serve a feature. */
async function requireServed(page, ...features) {
  // The app learns what the server serves once its socket is open (GET /openapi.json + probes).
  await page.waitForFunction(() => window.chatApp.client._capabilities, null, { timeout: 15_000 });
  const caps = await page.evaluate(() => window.chatApp.state.caps);
  const missing = features.filter((f) => !caps[f]);
  assert(missing.length === 0, `the server does not serve ${missing.join(', ')} yet (capabilities ${JSON.stringify(caps)})`);
}

/** A 96×64 PNG with a diagonal gradient, made here (no fixture file). */
function makePng(w = 96, h = 64) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < h; y++) {
    rows.push(0);
    for (let x = 0; x < w; x++) rows.push(Math.round((x / w) * 255), Math.round((y / h) * 200), 200);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0))]);
}
const PNG = makePng();

export default [
  {
    name: 'ui: attachment round trip (file with caption and progress, image preview, same bytes downloaded)',
    async run(T) {
      const { pa, pb } = await twoPeople(T);
      await requireServed(pa, 'uploads', 'attachments');
      const text = `attachment bytes ${Date.now()}`;
      await pa.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from(text) });
      await pa.waitForSelector('#composer-extra .chip');
      await T.sendText(pa, 'Here are the notes');
      await pb.waitForSelector('#message-log .msg.theirs .attachment a.file', { timeout: 15_000 });
      await T.waitText(pb, 'Here are the notes');
      const got = await pb.evaluate(async () => {
        const a = [...document.querySelectorAll('#message-log .msg.theirs .attachment a.file')].at(-1);
        const r = await fetch(a.href);
        return { name: a.getAttribute('download'), body: await r.text() };
      });
      assertEqual(got, { name: 'notes.txt', body: text }, 'the same file comes back');
      await pa.setInputFiles('#file-input', { name: 'pixels.png', mimeType: 'image/png', buffer: PNG });
      await pa.press('#composer-input', 'Enter');
      await pb.waitForSelector('#message-log .msg.theirs .attachment img[alt="pixels.png"]', { timeout: 15_000 });
      await pb.waitForFunction(() => [...document.querySelectorAll('#message-log .attachment img')].at(-1)?.naturalWidth === 96);
      await T.shot(pb, '20-attachments');
    },
  },
  {
    name: 'ui: voice note recorded with MediaRecorder (fake microphone) and played on the other side',
    async run(T) {
      const { pa, pb } = await twoPeople(T);
      await requireServed(pa, 'uploads', 'attachments');
      await pa.click('#voice-btn');
      await pa.waitForSelector('#composer-extra .recording');
      await sleep(1500);
      await pa.click('#voice-btn');
      await pa.waitForSelector('#composer-extra audio');
      await pa.press('#composer-input', 'Enter');
      await pb.waitForSelector('#message-log .msg.theirs .attachment audio', { timeout: 15_000 });
      const duration = await pb.evaluate(
        () =>
          new Promise((resolve) => {
            const el = [...document.querySelectorAll('#message-log .attachment audio')].at(-1);
            if (el.readyState >= 1) return resolve(el.duration);
            el.onloadedmetadata = () => resolve(el.duration);
            el.onerror = () => resolve(-1);
          }),
      );
      assert(duration !== -1, 'the voice note loads');
      await T.shot(pb, '21-voice-note');
    },
  },
  {
    name: 'ui: a video call through the server reaches connected with fake media',
    async run(T) {
      const { pa, pb } = await twoPeople(T);
      await requireServed(pa, 'call');
      await pa.click('#call-video-btn');
      await pa.waitForSelector('#call-view:not([hidden])');
      await pb.waitForSelector('#accept-call-btn', { timeout: 10_000 });
      await T.shot(pb, '22-incoming-call');
      await pb.click('#accept-call-btn');
      for (const p of [pa, pb]) await p.waitForSelector('#call-view[data-state=connected]', { timeout: 20_000 });
      await pb.waitForFunction(() => document.querySelector('#remote-video').videoWidth > 0);
      await T.shot(pa, '23-call-connected');
      await pa.click('#hangup-btn');
      await pb.waitForSelector('#call-view[hidden]', { state: 'attached', timeout: 10_000 });
    },
  },
  {
    name: 'ui: random matching puts two waiting people in one conversation',
    async run(T) {
      const pa = await T.newPage('A');
      const pb = await T.newPage('B');
      await T.signUp(pa, 'ma');
      await T.signUp(pb, 'mb');
      await requireServed(pa, 'match');
      await pa.click('#match-btn');
      await pb.click('#match-btn');
      const ids = [];
      for (const p of [pa, pb]) {
        await p.waitForFunction(() => /^#\/c\//.test(location.hash), null, { timeout: 15_000 });
        ids.push(await p.evaluate(() => window.chatApp.state.current));
      }
      assertEqual(ids[0], ids[1], 'the same conversation');
    },
  },
  {
    name: 'ui: devices: register this browser, see it listed with lastSeenAt, remove it',
    async run(T) {
      const page = await T.newPage('A');
      await T.signUp(page, 'dev');
      await requireServed(page, 'devices');
      await page.click('#settings-link');
      await page.click('#register-device-btn');
      await page.waitForSelector('#device-list li:has-text("this browser")');
      await T.shot(page, '24-settings-devices');
      await page.locator('#device-list li', { hasText: 'this browser' }).locator('button', { hasText: 'Remove' }).click();
      await page.waitForSelector('#device-list li:has-text("No devices")');
    },
  },
  {
    name: 'ui: mute a conversation from settings',
    async run(T) {
      const { pa } = await twoPeople(T);
      await requireServed(pa, 'mute');
      await pa.click('#settings-link');
      const box = pa.locator('#mute-list input[type=checkbox]').first();
      const [answer] = await Promise.all([
        pa.waitForResponse((r) => r.request().method() === 'PATCH' && /\/conversations\/[^/]+\/me$/.test(new URL(r.url()).pathname)),
        box.check(),
      ]);
      assertEqual(answer.status(), 200, 'PATCH /conversations/{id}/me answers 200');
      assertEqual((await answer.json()).muted, true, 'the server recorded muted');
      assert(await box.isChecked(), 'stays checked (the server accepted it)');
      // The setting is the server's: a reload (a fresh list) shows it checked, not the default.
      await pa.reload();
      await pa.waitForSelector('#conversation-list li');
      await pa.click('#settings-link');
      const again = pa.locator('#mute-list input[type=checkbox]').first();
      await again.waitFor();
      assert(await again.isChecked(), 'still checked after a reload: GET /conversations carries the caller\'s muted');
    },
  },
  {
    name: 'library: the token travels as the Sec-WebSocket-Protocol subprotocol, not in the URL',
    async run(T) {
      const page = await T.newPage('A', { url: T.site.blank });
      const u = await T.apiUser('sub');
      const r = await page.evaluate(async ({ httpUrl, wsUrl, u }) => {
        const { ChatClient } = await import('/chat-client.js');
        const c = new ChatClient({ httpUrl, wsUrl, storageKey: 'sub', tokenTransport: 'subprotocol' });
        c._setSession(u);
        let url;
        const open = new Promise((resolve, reject) => {
          setTimeout(() => reject(new Error(`not open after 5 s (state ${c.state}, url ${url})`)), 5000);
          c.on('state', (e) => {
            if (e.state === 'connecting') setTimeout(() => (url = c._ws?.url));
            if (e.state === 'open') resolve();
          });
        });
        c.connect();
        await open;
        const pong = await c.request({ action: 'ping' });
        return { protocol: c._ws.protocol, url, pong: pong.type };
      }, { httpUrl: T.backend.httpUrl, wsUrl: T.backend.wsUrl, u });
      assertEqual(r.protocol, 'chat', 'the server selected chat');
      assert(!/token=/.test(r.url || ''), 'no token in the URL');
      assertEqual(r.pong, 'pong', 'the socket works');
    },
  },
];

export { eventually };

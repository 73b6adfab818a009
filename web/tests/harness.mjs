// The browser tests' harness: the backend (started here, or given by URL), a static server for
// web/app on a port of its own (so every API call is cross-origin, as from a static deployment),
// headless Chromium through playwright-core, screenshots, and console-error policing.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { mkdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = resolve(WEB_DIR, '..');
export const SHOT_DIR = join(REPO_DIR, 'target', 'web-screenshots');

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

export function freePort() {
  return new Promise((res, rej) => {
    const s = netServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForHealth(httpUrl, { timeoutMs, child, log }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`the backend exited (${child.exitCode}):\n${log.slice(-4000)}`);
    try {
      const r = await fetch(`${httpUrl}/health`);
      if (r.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`the backend did not answer ${httpUrl}/health in ${timeoutMs / 1000} s:\n${log.slice(-4000)}`);
    await sleep(300);
  }
}

/**
 * The backend: CHAT_WEB_HTTP_URL + CHAT_WEB_WS_URL when given (any running gateway), else
 * `cargo run --bin local-gateway` from the repository on three free ports.
 */
export async function startBackend() {
  const given = process.env.CHAT_WEB_HTTP_URL;
  if (given) {
    const httpUrl = given.replace(/\/+$/, '');
    const wsUrl = process.env.CHAT_WEB_WS_URL || httpUrl.replace(/^http/, 'ws').replace(/:(\d+)$/, (_, p) => `:${Number(p) + 1}`);
    await waitForHealth(httpUrl, { timeoutMs: 30_000, log: '' });
    return { httpUrl, wsUrl, started: false, stop: async () => {} };
  }
  const [http, ws, moto] = [await freePort(), await freePort(), await freePort()];
  const env = {
    ...process.env,
    CHAT_HTTP_PORT: String(http),
    CHAT_WS_PORT: String(ws),
    CHAT_MOTO_PORT: String(moto),
    CHAT_LOCAL_SCHEDULES: process.env.CHAT_LOCAL_SCHEDULES || 'off',
    RUST_LOG: process.env.RUST_LOG || 'warn',
  };
  const child = spawn('cargo', ['run', '--quiet', '--bin', 'local-gateway'], { cwd: REPO_DIR, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const httpUrl = `http://127.0.0.1:${http}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    // SIGINT is the gateway's Ctrl-C: it stops moto too. The process group catches cargo's child.
    try {
      process.kill(-child.pid, 'SIGINT');
    } catch {
      return;
    }
    for (let i = 0; i < 50 && child.exitCode === null; i++) await sleep(100);
    if (child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  };
  try {
    await waitForHealth(httpUrl, { timeoutMs: Number(process.env.CHAT_WEB_BACKEND_TIMEOUT_SECS || 900) * 1000, child, log: '' });
  } catch (err) {
    await stop();
    throw new Error(`${err.message}\n${log.slice(-4000)}`);
  }
  return { httpUrl, wsUrl: `ws://127.0.0.1:${ws}`, started: true, stop, log: () => log };
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json' };

/** Serves web/app, with a generated config.js pointing at the backend. */
export async function startStatic({ httpUrl, wsUrl, extraConfig = {} }) {
  const root = join(WEB_DIR, 'app');
  const configJs = `window.CHAT_CONFIG = ${JSON.stringify({ httpUrl, wsUrl, ...extraConfig })};\n`;
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let path = decodeURIComponent(url.pathname);
    if (path === '/') path = '/index.html';
    if (path === '/__blank.html') {
      res.writeHead(200, { 'content-type': TYPES['.html'] });
      return res.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>blank</title><link rel="icon" href="data:,"></head><body></body></html>');
    }
    if (path === '/config.js') {
      res.writeHead(200, { 'content-type': TYPES['.js'], 'cache-control': 'no-store' });
      return res.end(configJs);
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] || 'application/octet-stream', 'cache-control': 'no-cache' });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, blank: '/__blank.html', stop: () => new Promise((r) => server.close(r)) };
}

export async function launchBrowser() {
  const executablePath = process.env.CHAT_WEB_CHROMIUM || '/usr/bin/chromium';
  // launch() gives every run a new, empty, temporary user-data-dir (and deletes it at close).
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_FLAGS });
}

export function shotPath(name) {
  mkdirSync(SHOT_DIR, { recursive: true });
  return join(SHOT_DIR, `${name}.png`);
}

/**
 * Console policing: every `console.error`, page error and failed request of a page is a
 * failure unless the test declared it expected (`expectConsole(page, /401/)`).
 */
export function police(page, label, sink) {
  page._allowed = [];
  const record = (kind, text) => {
    if (page._allowed.some((re) => re.test(text))) return;
    sink.push(`${label}: ${kind}: ${text}`);
  };
  page.on('console', (msg) => {
    if (msg.type() === 'error') record('console.error', `${msg.text()} ${msg.location()?.url ? `(${msg.location().url})` : ''}`.trim());
  });
  page.on('pageerror', (err) => record('page error', err.stack || err.message));
}

export function expectConsole(page, ...patterns) {
  page._allowed.push(...patterns);
}

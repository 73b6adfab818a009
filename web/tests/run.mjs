// The browser tests: the unit, library, UI and feature tests, all against the real backend (the
// local gateway over the emulator, or CHAT_WEB_HTTP_URL). CHAT_WEB_ONLY=<text> runs the tests whose
// name contains it. Screenshots go to target/web-screenshots/, a summary with the figures to
// target/web-report.json.
import { readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_DIR, SHOT_DIR, launchBrowser, startBackend, startStatic } from './harness.mjs';
import { makeContext } from './context.mjs';
import unitTests from './unit.test.mjs';
import uiTests from './ui.test.mjs';
import libraryTests from './library.test.mjs';
import featureTests from './features.test.mjs';

const only = process.env.CHAT_WEB_ONLY || '';
const all = [...unitTests, ...libraryTests, ...uiTests, ...featureTests];

const selected = all.filter((t) => !only || t.name.includes(only));
const results = [];
const figures = {};
// A whole run starts the screenshots afresh; a CHAT_WEB_ONLY run adds its own to what was there.
if (!only) rmSync(SHOT_DIR, { recursive: true, force: true });
mkdirSync(SHOT_DIR, { recursive: true });
for (const f of readdirSync(SHOT_DIR)) if (f.startsWith('FAILED-')) rmSync(join(SHOT_DIR, f));

const started = Date.now();
let backend;
let site;
let browser;
const log = (s) => process.stdout.write(`${s}\n`);
try {
  const needBrowser = selected.some((t) => !t.node);
  if (needBrowser) {
    log(process.env.CHAT_WEB_HTTP_URL ? `using the backend at ${process.env.CHAT_WEB_HTTP_URL}` : 'starting the backend (cargo run --bin local-gateway) …');
    backend = await startBackend();
    // CHAT_WEB_APP_URL: the app as some server serves it (the gateway of `make dev`, a static
    // deployment), with its own config.js; else a static server of the test's own.
    site = process.env.CHAT_WEB_APP_URL
      ? { url: process.env.CHAT_WEB_APP_URL.replace(/\/+$/, ''), blank: '/', stop: async () => {} }
      : await startStatic({ httpUrl: backend.httpUrl, wsUrl: backend.wsUrl });
    browser = await launchBrowser();
    log(`backend ${backend.httpUrl} ${backend.wsUrl}; app ${site.url}; chromium ${browser.version()}`);
  }
  for (const t of selected) {
    const ctx = makeContext({ browser, backend, site, figures, testName: t.name });
    const t0 = Date.now();
    let error;
    try {
      await Promise.race([
        t.run(ctx),
        new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out after ${(t.timeoutMs || 180_000) / 1000} s`)), t.timeoutMs || 180_000)),
      ]);
      if (!t.node) await ctx.settle();
      if (ctx.errors.length) error = new Error(`console errors:\n    ${ctx.errors.join('\n    ')}`);
    } catch (err) {
      error = err;
      await ctx.failureShots().catch(() => {});
    } finally {
      await ctx.close().catch(() => {});
    }
    const ms = Date.now() - t0;
    if (error) {
      results.push({ name: t.name, status: 'fail', ms, error: String(error.stack || error) });
      log(`FAIL     ${t.name} (${ms} ms)\n         ${String(error.stack || error).split('\n').join('\n         ')}`);
    } else {
      results.push({ name: t.name, status: 'pass', ms });
      log(`ok       ${t.name} (${ms} ms)`);
    }
  }
} catch (err) {
  results.push({ name: 'setup', status: 'fail', error: String(err.stack || err) });
  log(`FAIL     setup\n${err.stack || err}`);
} finally {
  await browser?.close().catch(() => {});
  await site?.stop().catch(() => {});
  await backend?.stop().catch(() => {});
}

try {
  figures.size = JSON.parse(readFileSync(join(REPO_DIR, 'target', 'web-size.json'), 'utf8'));
} catch {
  // scripts/size.mjs did not run (the test script runs it first)
}
const count = (s) => results.filter((r) => r.status === s).length;
const report = { only, at: new Date().toISOString(), seconds: Math.round((Date.now() - started) / 1000), passed: count('pass'), failed: count('fail'), figures, results };
writeFileSync(join(REPO_DIR, 'target', only ? 'web-report-only.json' : 'web-report.json'), JSON.stringify(report, null, 2));
log(`\n${report.passed} passed, ${report.failed} failed in ${report.seconds} s`);
for (const [k, v] of Object.entries(figures)) log(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
log(`screenshots: ${SHOT_DIR}`);
process.exit(report.failed ? 1 : 0);

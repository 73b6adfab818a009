// The browser tests. CHAT_WEB_TESTS picks what runs:
//   core    (default) everything today's server serves; the pending-on-server tests are listed
//           as PENDING, not run and never counted as passing;
//   all     core + the pending-on-server tests (attachments, voice notes, calls through the
//           server, matching, devices, mute, the subprotocol token): they fail until issue 10
//           (and the $connect-headers fix) land;
//   pending only the pending-on-server tests;
//   fake    only the pending-on-server tests, against tests/contract-fake.mjs (issue 10's
//           features faked in the browser's network layer in front of the real backend): this
//           checks the web client's side of them; it says nothing about the server, and its
//           passes are reported as "pass (fake)", never as passes of the pending tests.
// CHAT_WEB_ONLY=<text> runs the tests whose name contains it. Screenshots go to
// target/web-screenshots/, a summary with the figures to target/web-report.json.
import { readFileSync, readdirSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_DIR, SHOT_DIR, launchBrowser, startBackend, startStatic } from './harness.mjs';
import { makeContext } from './context.mjs';
import { createFakeState } from './contract-fake.mjs';
import unitTests from './unit.test.mjs';
import uiTests from './ui.test.mjs';
import libraryTests from './library.test.mjs';
import pendingTests from './features.test.mjs';

const tier = process.env.CHAT_WEB_TESTS || 'core';
if (!['core', 'all', 'pending', 'fake'].includes(tier)) {
  console.error(`CHAT_WEB_TESTS must be core, all, pending or fake (got ${tier})`);
  process.exit(2);
}
const only = process.env.CHAT_WEB_ONLY || '';
const all = [...unitTests, ...libraryTests, ...uiTests, ...pendingTests];

const selected = all.filter((t) => !only || t.name.includes(only));
const results = [];
const figures = {};
// core/all start the screenshots afresh; pending/fake add theirs to what core left.
if (tier === 'core' || tier === 'all') rmSync(SHOT_DIR, { recursive: true, force: true });
mkdirSync(SHOT_DIR, { recursive: true });
for (const f of readdirSync(SHOT_DIR)) if (f.startsWith('FAILED-')) rmSync(join(SHOT_DIR, f));

const started = Date.now();
const fakeState = createFakeState();
let backend;
let site;
let browser;
const log = (s) => process.stdout.write(`${s}\n`);
try {
  const onlyPending = tier === 'pending' || tier === 'fake';
  const needBrowser = selected.some((t) => !t.node && (tier !== 'core' || !t.pending) && (!onlyPending || t.pending));
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
    const runIt = tier === 'all' || (tier === 'core' && !t.pending) || (onlyPending && t.pending && !(tier === 'fake' && t.noFake));
    if (!runIt && !t.pending) continue; // CHAT_WEB_TESTS=pending: the core is not run
    if (!runIt) {
      results.push({ name: t.name, status: 'pending', reason: t.pending });
      log(`PENDING  ${t.name}\n         pending on the server: ${t.pending}`);
      continue;
    }
    const ctx = makeContext({ browser, backend, site, figures, testName: t.name, fake: tier === 'fake' ? fakeState : null });
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
      log(`FAIL     ${t.name} (${ms} ms)${t.pending ? ' [pending on the server]' : ''}\n         ${String(error.stack || error).split('\n').join('\n         ')}`);
    } else {
      const status = tier === 'fake' ? 'pass-fake' : 'pass';
      results.push({ name: t.name, status, ms });
      log(`${tier === 'fake' ? 'ok(fake)' : 'ok      '} ${t.name} (${ms} ms)${tier === 'fake' ? ' [against tests/contract-fake.mjs, not the server]' : ''}`);
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
const report = { tier, at: new Date().toISOString(), seconds: Math.round((Date.now() - started) / 1000), passed: count('pass'), passedAgainstFake: count('pass-fake'), failed: count('fail'), pending: count('pending'), figures, results };
writeFileSync(join(REPO_DIR, 'target', tier === 'core' ? 'web-report.json' : `web-report-${tier}.json`), JSON.stringify(report, null, 2));
log(
  `\n${report.passed} passed, ${report.failed} failed, ${report.pending} pending on the server` +
    (report.passedAgainstFake ? `, ${report.passedAgainstFake} passed against the contract fake (not the server)` : '') +
    ` (CHAT_WEB_TESTS=${tier}) in ${report.seconds} s`,
);
for (const [k, v] of Object.entries(figures)) log(`  ${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`);
log(`screenshots: ${SHOT_DIR}`);
process.exit(report.failed ? 1 : 0);

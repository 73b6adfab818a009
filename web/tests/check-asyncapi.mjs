// Checks that the client library's action and event names agree with docs/asyncapi.yaml, both
// ways: every publish message of the channel is in ACTIONS, every subscribe message in
// SERVER_EVENTS and in the ServerEventMap of chat-client.d.ts, and nothing else.
// The document is parsed with the `yaml` package (a dev dependency): the names sit behind $refs
// (`#/components/messages/...`), so a regex would have to reimplement reference resolution.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { ACTIONS, SERVER_EVENTS } from '../lib/chat-client.js';

const here = dirname(fileURLToPath(import.meta.url));
const docPath = process.env.CHAT_ASYNCAPI || join(here, '../../docs/asyncapi.yaml');
const doc = parse(readFileSync(docPath, 'utf8'));

function resolve(ref) {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
  return ref.slice(2).split('/').reduce((node, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

/** Names of the messages of one operation, with the payload's own `action`/`type` const as a cross-check. */
function names(operation, field) {
  const out = [];
  for (const [channel, item] of Object.entries(doc.channels || {})) {
    const message = item[operation]?.message;
    if (!message) continue;
    for (const entry of message.oneOf || [message]) {
      const m = entry.$ref ? resolve(entry.$ref) : entry;
      if (!m?.name) throw new Error(`${channel} ${operation}: a message without a name (${entry.$ref || 'inline'})`);
      let payload = m.payload?.$ref ? resolve(m.payload.$ref) : m.payload;
      const prop = payload?.properties?.[field];
      const allowed = prop?.const !== undefined ? [prop.const] : prop?.enum;
      if (allowed && !allowed.includes(m.name)) {
        throw new Error(`${m.name}: its payload's ${field} allows ${JSON.stringify(allowed)}, not its own name`);
      }
      out.push({ name: m.name, planned: m['x-status'] === 'planned' });
    }
  }
  return out;
}

const failures = [];
function compare(label, documented, library) {
  const doc = new Set(documented.map((d) => d.name));
  const lib = new Set(library);
  for (const n of doc) if (!lib.has(n)) failures.push(`${label} "${n}" is in docs/asyncapi.yaml but not in the library`);
  for (const n of lib) if (!doc.has(n)) failures.push(`${label} "${n}" is in the library but not in docs/asyncapi.yaml`);
  if (lib.size !== library.length) failures.push(`${label}: duplicates in the library list`);
}

const actions = names('publish', 'action');
const events = names('subscribe', 'type');
compare('action', actions, ACTIONS);
compare('event', events, SERVER_EVENTS);

// The typed event map of the declarations names the same events.
const dts = readFileSync(join(here, '../lib/chat-client.d.ts'), 'utf8');
const mapBody = /export interface ServerEventMap \{([\s\S]*?)\n\}/.exec(dts)?.[1] ?? '';
const typed = [...mapBody.matchAll(/^\s*'([^']+)':/gm)].map((m) => m[1]);
compare('typed event', events, typed);
const actionType = /export type ClientAction =([\s\S]*?);/.exec(dts)?.[1] ?? '';
compare('typed action', actions, [...actionType.matchAll(/'([^']+)'/g)].map((m) => m[1]));

if (failures.length) {
  console.error('asyncapi check FAILED:\n  ' + failures.join('\n  '));
  process.exit(1);
}
const planned = [...actions, ...events].filter((x) => x.planned).map((x) => x.name);
console.log(
  `asyncapi check ok: ${actions.length} actions and ${events.length} events agree with ${docPath.replace(/.*\/docs\//, 'docs/')}` +
    (planned.length ? ` (marked planned there: ${[...new Set(planned)].join(', ')})` : ''),
);

// The API the app talks to. `make dev` serves the app from the HTTP API's own origin, with the
// WebSocket API on port 3001 of the same host; a static deployment (or web/scripts/test.sh)
// replaces this file with `window.CHAT_CONFIG = {httpUrl: "...", wsUrl: "..."}`.
window.CHAT_CONFIG = window.CHAT_CONFIG || {
  httpUrl: location.origin,
  wsUrl: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.hostname + ':3001',
};

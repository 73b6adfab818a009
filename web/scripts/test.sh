#!/bin/sh
# The web client's tests, from a clean clone: installs what they need (Debian's chromium, the
# npm dev dependencies), checks the library against docs/asyncapi.yaml, measures its size, then
# runs the browser tests in headless Chromium.
#
#   web/scripts/test.sh                   all tests; starts its own backend (cargo run --bin local-gateway)
#   CHAT_WEB_HTTP_URL=http://127.0.0.1:3000 CHAT_WEB_WS_URL=ws://127.0.0.1:3001 web/scripts/test.sh
#                                         against a gateway that is already running
#   CHAT_WEB_ONLY=<text>                  only the tests whose name contains <text>
set -eu
web="$(cd "$(dirname "$0")/.." && pwd)"
cd "$web"

if [ ! -x /usr/bin/chromium ] && [ -z "${CHAT_WEB_CHROMIUM:-}" ]; then
  echo "web: installing Debian's chromium (once) ..."
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # Another apt run (a neighbour's install) holds the lock for a while: wait for it.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >/dev/null \
    || { $sudo apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null && $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium >/dev/null; }
fi

# npm ci only when the lockfile changed since the last install (npm ci always starts over).
stamp="node_modules/.chat-web-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "web: npm ci ..."
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

mkdir -p ../target
node tests/check-asyncapi.mjs
node scripts/size.mjs
exec node tests/run.mjs

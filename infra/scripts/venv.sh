#!/usr/bin/env bash
# Creates or updates the project venv (.venv, or $CHAT_VENV) idempotently.
#   venv.sh emulator   moto server only (make dev, make test)
#   venv.sh tools      also cfn-lint, aws-sam-cli, cargo-lambda, ziglang (lint, package)
# A stamp file holds the hash of the requirements installed, so a second run is a no-op.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${CHAT_VENV:-$root/.venv}"
what="${1:-emulator}"
case "$what" in
  emulator) files=("$here/requirements-emulator.txt") ;;
  tools) files=("$here/requirements-emulator.txt" "$here/requirements-tools.txt") ;;
  *) echo "usage: $0 emulator|tools" >&2; exit 2 ;;
esac
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "venv: creating $venv" >&2
  "$python" -m venv "$venv"
fi
for f in "${files[@]}"; do
  name="$(basename "$f" .txt)"
  stamp="$venv/.stamp-$name"
  want="$(sha256sum "$f" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    continue
  fi
  echo "venv: installing $name (first run takes a while)…" >&2
  "$venv/bin/pip" install --disable-pip-version-check -q -r "$f"
  echo "$want" > "$stamp"
done

#!/usr/bin/env bash
# Creates or updates the project's Python venv (${CHAT_VENV:-<repo>/.venv}), idempotently.
#   venv.sh emulator   moto server only                                (make dev, make test)
#   venv.sh tools      also cfn-lint, aws-sam-cli, cargo-lambda, ziglang (make lint-template, make package)
# A stamp file in the venv holds the sha256 of the requirement files it was installed from: a later
# run is a no-op in milliseconds, and editing a requirements file reinstalls on the next run.
# Safe to run concurrently (make -j): the installing part holds a lock on the venv directory.
# Env: CHAT_VENV (where), PYTHON (the interpreter to build it from; 3.10 to 3.14).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
venv="${CHAT_VENV:-$root/.venv}"
what="${1:-emulator}"
case "$what" in
  emulator) files=("$here/requirements-emulator.txt"); eta="~45 s" ;;
  # One pip run over both files, so the resolver sees every pin at once (they share boto3 & co).
  tools) files=("$here/requirements-emulator.txt" "$here/requirements-tools.txt"); eta="~1.5 min" ;;
  *) echo "usage: $0 emulator|tools" >&2; exit 2 ;;
esac

hash_of() { cat "$@" | sha256sum | cut -d' ' -f1; }
want="$(hash_of "${files[@]}")"
stamp="$venv/.stamp-$what"
ready() { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -c '' 2>/dev/null; }
ready && exit 0

# An interpreter every pin supports (cfn-lint: >=3.10,<3.15; moto and SAM CLI: >=3.10).
supported='import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] < (3, 15)))'
if [ -n "${PYTHON:-}" ]; then candidates=("$PYTHON"); else candidates=(python3 python3.13 python3.12 python3.11 python3.10); fi
python=""
for candidate in "${candidates[@]}"; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$supported" 2>/dev/null; then
    python="$candidate"; break
  fi
done
if [ -z "$python" ]; then
  echo "venv: needs Python 3.10 to 3.14 (tried ${candidates[*]}; set PYTHON=/path/to/python3.x)" >&2
  exit 1
fi

mkdir -p "$venv"
exec 9<"$venv" # lock the directory itself: `venv --clear` empties it but keeps it
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  echo "venv: waiting for another install into $venv…" >&2
  flock 9
fi
ready && exit 0 # another run finished while this one waited

start=$SECONDS
if [ -f "$stamp" ]; then note="requirements changed"; else note="first install, $eta"; fi
if ! "$venv/bin/python" -c "$supported" 2>/dev/null; then
  # Missing, or broken (e.g. its base interpreter is gone): build it afresh.
  echo "venv: creating $venv with $("$python" -c 'import sys; print(sys.executable, sys.version.split()[0])')" >&2
  if ! "$python" -m venv --clear "$venv"; then
    echo "venv: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  fi
  note="first run, $eta"
fi

pins="$(grep -hv '^[[:space:]]*#' "${files[@]}" | grep -v '^[[:space:]]*$' | tr '\n' ' ')"
echo "venv: installing ${pins}($note)…" >&2
args=()
for f in "${files[@]}"; do args+=(-r "$f"); done
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q "${args[@]}"

if [ "$what" = tools ]; then
  # cargo-lambda (cargo-zigbuild inside) looks for `zig` on PATH, else runs `python3 -m ziglang`,
  # which finds the ziglang wheel only if this venv's python3 is the first python3 on PATH.
  # This `zig` works wherever the venv's bin sits on PATH.
  printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$venv/bin/python" >"$venv/bin/zig"
  chmod +x "$venv/bin/zig"
  "$venv/bin/zig" version >/dev/null
  # The tools install covers the emulator's requirements too.
  hash_of "$here/requirements-emulator.txt" >"$venv/.stamp-emulator"
fi
echo "$want" >"$stamp"
echo "venv: ready in $((SECONDS - start)) s ($venv)" >&2

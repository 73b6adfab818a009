#!/usr/bin/env bash
# `make package`: sam build with cargo-lambda (BuildMethod rust-cargolambda), then checks that every
# function has an arm64 bootstrap and prints its size.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CHAT_VENV:-$root/.venv}"
"$root/infra/scripts/venv.sh" tools
rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || rustup target add aarch64-unknown-linux-gnu
# cargo-lambda cross-compiles with zig; the ziglang wheel ships it as a Python module.
shim="$venv/bin/zig"
if [ ! -x "$shim" ]; then
  printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$venv/bin/python" > "$shim"
  chmod +x "$shim"
fi
export PATH="$venv/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
cd "$root"
echo "package: sam build (release, arm64; a clean build takes several minutes)…" >&2
sam build --beta-features --template-file template.yaml
status=0
for dir in .aws-sam/build/*/; do
  name="$(basename "$dir")"
  [ -f "$dir/bootstrap" ] || continue
  # ELF header: e_machine at offset 18 is 0xB7 (183) for aarch64.
  machine="$(od -An -tu2 -j18 -N2 "$dir/bootstrap" | tr -d ' ')"
  size="$(stat -c %s "$dir/bootstrap")"
  if [ "$machine" = "183" ]; then
    printf 'package: %-24s arm64  %8.2f MB\n' "$name" "$(echo "$size / 1048576" | bc -l)"
  else
    printf 'package: %-24s NOT arm64 (e_machine %s)\n' "$name" "$machine"; status=1
  fi
done
exit $status

#!/usr/bin/env bash
# `make package`: `sam build` of template.yaml (BuildMethod rust-cargolambda: cargo-lambda + zig from
# the tools venv), then checks that every function got an arm64 `bootstrap` and prints its size.
# Extra arguments go to `sam build` (e.g. `--debug`). Needs rustup; downloads the aarch64 std once.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CHAT_VENV:-$root/.venv}"
bash "$root/infra/scripts/venv.sh" tools
cd "$root"

# Cross-compiling needs the target's std; `--arm64` makes cargo-lambda link with zig.
target=aarch64-unknown-linux-gnu
if ! command -v rustup >/dev/null 2>&1; then
  echo "package: rustup not found; install the $target target of your toolchain yourself" >&2
elif ! rustup target list --installed | grep -x "$target" >/dev/null; then
  echo "package: rustup target add $target" >&2
  rustup target add "$target"
fi

# sam finds `cargo lambda` on PATH; cargo-lambda finds `zig` there (the shim venv.sh writes).
export PATH="$venv/bin:$PATH"
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
echo "package: $(cargo lambda --version), zig $(zig version), $(sam --version)" >&2
echo "package: sam build (release, arm64; one cargo build per function over a shared target dir:" \
  "a clean build takes several minutes, later ones seconds)…" >&2
# rust-cargolambda is GA in SAM CLI 1.170 (no --beta-features); samconfig.toml sets parallel = false
# because the six builds share one cargo target dir and would only wait on its lock.
sam build --template-file template.yaml "$@"

# Every function of the built template: its artifact dir must hold an aarch64 ELF `bootstrap`.
"$venv/bin/python" - .aws-sam/build <<'EOF'
import os, sys
from samcli.yamlhelper import parse_yaml_file

build = sys.argv[1]
resources = parse_yaml_file(os.path.join(build, "template.yaml"))["Resources"]
functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
failed, total = 0, 0
for name, fn in sorted(functions.items()):
    path = os.path.join(build, fn["Properties"]["CodeUri"], "bootstrap")
    try:
        with open(path, "rb") as f:
            head = f.read(20)
        size = os.path.getsize(path)
    except OSError as e:
        print(f"package: {name:24} MISSING {path} ({e.strerror})", file=sys.stderr)
        failed += 1
        continue
    # ELF magic, 64-bit class, little-endian, e_machine 183 (EM_AARCH64).
    ok = head[:4] == b"\x7fELF" and head[4] == 2 and head[5] == 1 and int.from_bytes(head[18:20], "little") == 183
    if not ok:
        print(f"package: {name:24} NOT an aarch64 ELF: {path}", file=sys.stderr)
        failed += 1
        continue
    total += size
    print(f"package: {name:24} arm64 {size / 1048576:6.2f} MB  {path}")
print(f"package: {len(functions) - failed}/{len(functions)} functions ok, {total / 1048576:.2f} MB in all")
sys.exit(1 if failed or not functions else 0)
EOF
if command -v file >/dev/null 2>&1; then file -b .aws-sam/build/*/bootstrap | sort | uniq -c >&2; fi

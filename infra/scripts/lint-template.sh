#!/usr/bin/env bash
# Lints template.yaml with cfn-lint and `sam validate --lint`; both run offline.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CHAT_VENV:-$root/.venv}"
"$root/infra/scripts/venv.sh" tools
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
# sam validate needs credentials to exist, not to be valid.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
cd "$root"
echo "lint: cfn-lint template.yaml" >&2
"$venv/bin/cfn-lint" template.yaml
echo "lint: sam validate --lint" >&2
"$venv/bin/sam" validate --lint --region us-east-1 --template-file template.yaml

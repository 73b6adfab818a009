#!/usr/bin/env bash
# `make deploy-web STACK=<stack>`: upload web/app to the stack's web app bucket (template parameter
# WebAppHosting=true) with a config.js that names the stack's own API URLs, then invalidate what
# CloudFront may have cached. Needs the AWS CLI (`make tools`) and credentials for the stack.
#   STACK=chat-backend bash infra/scripts/deploy-web.sh
#   DRY_RUN=1 ...      only builds the site in a temporary folder and prints its path
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CHAT_VENV:-$root/.venv}"
aws="${AWS_CLI:-$venv/bin/aws}"
[ -x "$aws" ] || aws="aws"
stack="${STACK:?set STACK to the name of the deployed stack}"

output() {
  "$aws" cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
http_url="$(output HttpApiUrl)"
ws_url="$(output WebSocketUrl)"
bucket="$(output WebAppBucketName)"
distribution="$(output WebAppDistributionId)"
if [ -z "$bucket" ] || [ "$bucket" = "None" ]; then
  echo "deploy-web: stack $stack has no WebAppBucketName output: deploy it with WebAppHosting=true" >&2
  exit 1
fi

# -L: app/chat-client.js is a symlink to ../lib/chat-client.js; the bucket gets the file itself.
site="$(mktemp -d)"
trap '[ -n "${DRY_RUN:-}" ] || rm -rf "$site"' EXIT
cp -RL "$root/web/app/." "$site/"
printf 'window.CHAT_CONFIG = {httpUrl: %s, wsUrl: %s};\n' \
  "$(printf '%s' "$http_url" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" \
  "$(printf '%s' "$ws_url" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" \
  > "$site/config.js"
echo "deploy-web: $stack -> s3://$bucket (httpUrl $http_url, wsUrl $ws_url)"
if [ -n "${DRY_RUN:-}" ]; then
  echo "deploy-web: DRY_RUN: site in $site"
  exit 0
fi

# Short browser caching for the app's files (they change with every deploy and are small);
# CloudFront's own copy is dropped by the invalidation below.
"$aws" s3 sync "$site/" "s3://$bucket/" --delete --cache-control "public, max-age=60"
"$aws" cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" >/dev/null
echo "deploy-web: done: $(output WebAppUrl)"

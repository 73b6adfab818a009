#!/usr/bin/env bash
# `make lint-template`: cfn-lint, `sam validate --lint` and a reference check on template.yaml (or
# the file given). All offline, from the tools venv; every check runs; exits non-zero if any fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CHAT_VENV:-$root/.venv}"
bash "$root/infra/scripts/venv.sh" tools
cd "$root"
template="${1:-template.yaml}"

# No telemetry; sam validate and the SAM translator want credentials and a region to exist, not to be valid.
export SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

status=0
echo "lint: cfn-lint $template" >&2
"$venv/bin/cfn-lint" "$template" || status=1

echo "lint: sam validate --lint $template" >&2
"$venv/bin/sam" validate --lint --region us-east-1 --template-file "$template" || status=1

# cfn-lint does not check names inside IAM policy documents: a `!GetAtt ChatTabel.Arn` in a
# function's Policies passes both tools above and only fails the deploy. So check every Ref, GetAtt,
# Sub and DependsOn of the SAM-translated template against its parameters, resources and pseudo
# parameters.
echo "lint: names referenced in $template (after the SAM transform)" >&2
"$venv/bin/python" - "$template" <<'PY' || status=1
import re
import sys

from samcli.yamlhelper import parse_yaml_file
from samtranslator.translator.transform import transform


class NoManagedPolicies:
    def load(self):
        return {}


template = parse_yaml_file(sys.argv[1])
resources = template.get("Resources", {})
for props in [template.get("Globals", {}).get("Function", {})] + [
    r.get("Properties", {}) for r in resources.values() if r.get("Type") == "AWS::Serverless::Function"
]:
    if "CodeUri" in props:
        props["CodeUri"] = "s3://bucket/key"  # what `sam package` puts there
# Parameters without a default (JwtSecret) get a value that satisfies any MinLength.
params = {k: "x" * 64 for k, p in template.get("Parameters", {}).items() if "Default" not in p}
out = transform(template, params, NoManagedPolicies())
names = set(out.get("Parameters", {})) | set(out["Resources"])
pseudo = {"AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition", "AWS::Region",
          "AWS::StackId", "AWS::StackName", "AWS::URLSuffix"}
bad = []


def walk(node, where):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str) and value not in names | pseudo:
                bad.append(f"{where}: !Ref {value}")
            elif key == "Fn::GetAtt":
                name = value[0] if isinstance(value, list) else str(value).split(".")[0]
                if name not in out["Resources"]:
                    bad.append(f"{where}: !GetAtt {name}")
            elif key == "Fn::Sub":
                text, local = (value[0], value[1]) if isinstance(value, list) else (value, {})
                for ref in re.findall(r"\$\{([^!}][^}]*)\}", text if isinstance(text, str) else ""):
                    if ref not in local and ref not in pseudo and ref.split(".")[0] not in names:
                        bad.append(f"{where}: !Sub ${{{ref}}}")
            walk(value, where)
    elif isinstance(node, list):
        for item in node:
            walk(item, where)


for section in ("Resources", "Outputs", "Conditions"):
    for name, body in out.get(section, {}).items():
        walk(body, f"{section}.{name}")
        depends = body.get("DependsOn", []) if section == "Resources" else []
        for dep in [depends] if isinstance(depends, str) else depends:
            if dep not in out["Resources"]:
                bad.append(f"{section}.{name}: DependsOn {dep}")
for line in bad:
    print(f"lint: unknown name in {line}", file=sys.stderr)
print(f"lint: {len(out['Resources'])} resources after the transform, {len(bad)} unknown names", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

if [ $status -ne 0 ]; then echo "lint: $template FAILED" >&2; else echo "lint: $template ok" >&2; fi
exit $status

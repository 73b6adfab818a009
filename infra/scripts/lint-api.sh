#!/usr/bin/env bash
# `make lint-api`: docs/openapi.json against the OpenAPI 3.1 specification (openapi-spec-validator),
# and docs/asyncapi.yaml structurally: AsyncAPI 2.6, every $ref resolves, every schema is valid JSON
# Schema (draft 7, what AsyncAPI 2.x schemas extend), every message belongs to an operation, every
# example matches its payload. All offline, from the tools venv; exits non-zero if any check fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${CHAT_VENV:-$root/.venv}"
bash "$root/infra/scripts/venv.sh" tools
cd "$root"

status=0
echo "lint: openapi-spec-validator docs/openapi.json" >&2
"$venv/bin/openapi-spec-validator" docs/openapi.json || status=1

echo "lint: docs/asyncapi.yaml" >&2
"$venv/bin/python" - docs/asyncapi.yaml <<'PY' || status=1
import copy
import sys

import jsonschema
import yaml

path = sys.argv[1]
doc = yaml.safe_load(open(path, encoding="utf-8"))
errors = []
if not str(doc.get("asyncapi", "")).startswith("2.6"):
    errors.append(f"asyncapi is {doc.get('asyncapi')!r}, expected 2.6.x")
for key in ("info", "channels", "components"):
    if key not in doc:
        errors.append(f"missing top-level {key}")


def lookup(ref):
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def walk_refs(node, where):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            try:
                lookup(ref)
            except (KeyError, TypeError):
                errors.append(f"{where}: unresolved $ref {ref}")
        for k, v in node.items():
            walk_refs(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(v, f"{where}/{i}")


walk_refs(doc, "#")


def inline(node, depth=0):
    """Local $refs replaced by their target (siblings such as description kept)."""
    if depth > 20:
        raise RecursionError("$ref nesting too deep")
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            target = inline(copy.deepcopy(lookup(node["$ref"])), depth + 1)
            extra = {k: inline(v, depth + 1) for k, v in node.items() if k != "$ref"}
            return {**target, **extra} if isinstance(target, dict) else target
        return {k: inline(v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [inline(v, depth + 1) for v in node]
    return node


if not errors:
    components = doc["components"]
    for name, schema in components.get("schemas", {}).items():
        try:
            jsonschema.Draft7Validator.check_schema(inline(schema))
        except jsonschema.SchemaError as e:
            errors.append(f"schemas/{name}: {e.message}")
    used = set()
    for channel, item in doc["channels"].items():
        for op in ("publish", "subscribe"):
            message = item.get(op, {}).get("message", {})
            for ref in [m.get("$ref") for m in message.get("oneOf", [message])]:
                if ref:
                    used.add(ref.rsplit("/", 1)[-1])
    for name, message in components.get("messages", {}).items():
        if name not in used:
            errors.append(f"messages/{name} is in no operation")
        payload = inline(message.get("payload", {}))
        try:
            jsonschema.Draft7Validator.check_schema(payload)
        except jsonschema.SchemaError as e:
            errors.append(f"messages/{name}: payload: {e.message}")
            continue
        for i, example in enumerate(message.get("examples", [])):
            for e in jsonschema.Draft7Validator(payload).iter_errors(example.get("payload")):
                errors.append(f"messages/{name}: example {i}: {e.message}")
    print(f"lint: {len(components.get('messages', {}))} messages, {len(components.get('schemas', {}))} schemas, "
          f"{len(errors)} problems", file=sys.stderr)
for line in errors:
    print(f"lint: {path}: {line}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY

if [ $status -ne 0 ]; then echo "lint: API documents FAILED" >&2; else echo "lint: API documents ok" >&2; fi
exit $status

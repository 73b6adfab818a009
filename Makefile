# The two commands of the README: `make dev` and `make test`. Everything they need is installed
# on first use (a Python venv with the emulator and the AWS tools); later runs are incremental.

CARGO ?= cargo
VENV_SH := infra/scripts/venv.sh

.PHONY: soak dev dev-reset test fmt fmt-check clippy test-rust test-web lint-template lint-api package deploy-web bench venv tools clean-venv

## dev: start moto (unless AWS_ENDPOINT_URL is set), create the table, serve the HTTP API on
## :3000 and the WebSocket API on :3001 (CHAT_HTTP_PORT / CHAT_WS_PORT override). Ctrl-C stops all.
dev: venv
	$(CARGO) run --bin local-gateway

## dev-process: `make dev` with each function as its built binary in processes of its own,
## speaking the Lambda Runtime API (cold starts, init errors, memory per function: docs/local-gateway.md).
.PHONY: dev-process
dev-process: venv
	$(CARGO) build -p chat-functions --bins
	$(CARGO) build -p chat-authorizer
	CHAT_LOCAL_FUNCTIONS=process $(CARGO) run --bin local-gateway

## dev-reset: `make dev` from an empty emulator (deletes the state kept under .local/).
dev-reset:
	rm -rf .local
	$(MAKE) dev

## test: formatting, lints, unit + integration + end-to-end tests, the web client's browser tests,
## template and API-document lint.
test: venv fmt-check clippy test-rust test-web lint-template lint-api

venv:
	@bash $(VENV_SH) emulator

tools:
	@bash $(VENV_SH) tools

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust: venv
	$(CARGO) test --workspace --no-fail-fast

## test-web: the JavaScript client and the web app in headless Chromium against the local gateway
## (installs Debian's chromium and the npm dev dependencies on first use; web/README.md).
test-web: venv
	@sh web/scripts/test.sh

lint-template: tools
	@bash infra/scripts/lint-template.sh

## lint-api: docs/openapi.json (OpenAPI 3.1, openapi-spec-validator) and docs/asyncapi.yaml (AsyncAPI 2.6).
lint-api: tools
	@bash infra/scripts/lint-api.sh

## package: `sam build` with cargo-lambda: an arm64 bootstrap for every function in .aws-sam/build.
package: tools
	@bash infra/scripts/package.sh

## deploy-web: upload web/app to a stack deployed with WebAppHosting=true (STACK=<stack name>).
deploy-web: tools
	@bash infra/scripts/deploy-web.sh

clean-venv:
	rm -rf .venv

## bench: round trips per route, priced DynamoDB units, cost per message, load latency, memory and init
## of every function binary against the empty and SDK baselines (ws-authorizer rebuilt on its own last, as
## sam builds it: a workspace build links it against `chat`'s AWS adapters), cold starts and RSS of each function
## run as processes (bench/results.md; CHAT_BENCH_ONLY=processes: that part alone, bench/processes.md).
bench: venv
	$(CARGO) build --release --bins
	$(CARGO) build --release -p chat-authorizer
	$(CARGO) run --release -p chat-local --bin bench

## bench-gateway: connections the local gateway holds, its memory per 1,000 connections and the
## offered rates at which its stage throttling refuses work (a report, never asserted).
.PHONY: bench-gateway
bench-gateway: venv
	$(CARGO) build --release -p chat-local --bin local-gateway --bin local-gateway-capacity
	$(CARGO) run --release -p chat-local --bin local-gateway-capacity | tee bench/gateway-capacity.md

## soak: the long part of the fault/fuzz/load suite (infra/tests/e2e/{load,fuzz,held_sockets}.rs): 20 clients x 50
## messages, 20,000 fuzzed frames and 5,000 REST bodies (CHAT_FUZZ_SEED replays a printed seed), 1,000 sockets held.
soak: venv
	CHAT_LOAD_CLIENTS=20 CHAT_LOAD_MESSAGES=50 CHAT_FUZZ_FRAMES=20000 CHAT_FUZZ_BODIES=5000 CHAT_HELD_SOCKETS=1000 \
		$(CARGO) test -p chat-local --test e2e -- --nocapture --include-ignored load:: fuzz:: faults held_sockets

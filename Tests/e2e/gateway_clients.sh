#!/usr/bin/env bash
# Clients nobody here wrote, through `persona serve` to the loopback mock: the official OpenAI
# Python SDK streams and asks in each provider's wire format, the `websockets` package drives the
# seed API's sockets, and curl reads its costs.
# Usage: Tests/e2e/gateway_clients.sh BUILD_DIR PYTHON   (PYTHON has the openai and websockets packages)
set -uo pipefail
bin="$1"
python="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="$(mktemp -d)"
pids=()
cleanup() { [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin/persona-mock" --port 0 --delay 0.005 > "$work/mock.out" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/mock.out" && break; sleep 0.1; done
mock="$(sed -n 's/^listening on //p' "$work/mock.out")"
mkdir -p "$work/home"
cat > "$work/home/config.yaml" <<YAML
prices:
  "openai:mock": { input: 1.00, output: 2.00 }
  "anthropic:mock": { input: 3.00, output: 15.00 }
  "gemini:mock": { input: 0.10, output: 0.40 }
YAML
env OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL="$mock/v1" ANTHROPIC_API_KEY=sk-ant-e2e ANTHROPIC_BASE_URL="$mock" \
    GEMINI_API_KEY=gm-e2e GEMINI_BASE_URL="$mock" PERSONA_BUNDLED_PERSONAS="$root/personas" \
    "$bin/persona" serve --port 0 --home "$work/home" > "$work/serve.out" 2> "$work/serve.err" &
pids+=($!)
for _ in $(seq 100); do grep -q http "$work/serve.out" && break; sleep 0.1; done
url="$(head -1 "$work/serve.out")"
[ -n "$url" ] || { echo "persona serve did not start"; cat "$work/serve.err"; exit 1; }

status=0
"$python" "$root/Tests/e2e/openai_sdk_client.py" "$url/v1" anthropic:mock gemini:mock openai:mock || status=1
# The sockets, behind a key, with a breaker that opens after 2 failures and 10 requests a minute
# to openai.
{ cat "$work/home/config.yaml"; printf 'circuit_breaker: { failure_threshold: 2 }\nretry: { max_retries: 0 }\nproviders:\n  openai: { rpm: 10 }\n'
  printf 'serve:\n  keys:\n    sockets: { key_env: WS_KEY }\n'; } \
    > "$work/ws.yaml"
env OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL="$mock/v1" ANTHROPIC_API_KEY=sk-ant-e2e ANTHROPIC_BASE_URL="$mock" WS_KEY=ws-key-0123456789 \
    "$bin/persona" serve --port 0 --home "$work/home" --config "$work/ws.yaml" > "$work/ws.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q http "$work/ws.out" && break; sleep 0.1; done
ws_url="$(head -1 "$work/ws.out")"
"$python" "$root/Tests/e2e/websocket_client.py" "${ws_url/http/ws}" "$ws_url" ws-key-0123456789 || status=1
rows="$("$bin/persona" costs entries --json --limit 100 --home "$work/home" | "$python" -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')"
if [ "$rows" = "$((6 + 1 + 2 + 9))" ]; then echo "ok   the ledger has a row for each of the 18 requests"; else echo "FAIL the ledger has $rows rows, not 18"; status=1; fi
if curl -sf "$url/api/v1/costs/summary" | grep -q '"request_count":18'; then echo "ok   curl reads the same rows from /api/v1/costs/summary"
else echo "FAIL /api/v1/costs/summary"; status=1; fi
# A stream's exact cost follows its body as a trailer, as the ledger has it.
trailer="$(curl -sN --raw "$url/v1/chat/completions" -H 'Content-Type: application/json' \
    -d '{"model":"openai:mock","stream":true,"messages":[{"role":"user","content":"Tea?"}]}' | tr -d '\r' | sed -n 's/^X-Request-Cost: \$//p')"
recorded="$("$bin/persona" costs entries --json --limit 1 --home "$work/home" | "$python" -c 'import json,sys; print(json.load(sys.stdin, parse_float=str)["entries"][0]["cost"])')"
if [ -n "$trailer" ] && [ "$trailer" = "$recorded" ]; then echo "ok   a stream's X-Request-Cost trailer is its ledger row's cost ($trailer)"
else echo "FAIL the X-Request-Cost trailer '$trailer' is not the ledger's '$recorded'"; status=1; fi
if grep -q "sk-e2e\|sk-ant-e2e\|gm-e2e" "$work/serve.out" "$work/serve.err" "$work/ws.out"; then echo "FAIL a provider key was printed"; status=1
else echo "ok   no provider key in the server's output"; fi
exit $status

#!/usr/bin/env bash
# Clients nobody here wrote, through `persona serve` to the loopback mock: the official OpenAI
# Python SDK streams and asks in each provider's wire format, and curl reads the seed API.
# Usage: Tests/e2e/gateway_clients.sh BUILD_DIR PYTHON   (PYTHON has the openai package)
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
printf 'prices:\n  "openai:mock": { input: 1.00, output: 2.00 }\n  "anthropic:mock": { input: 3.00, output: 15.00 }\n  "gemini:mock": { input: 0.10, output: 0.40 }\n' \
    > "$work/home/config.yaml"
env OPENAI_API_KEY=sk-e2e OPENAI_BASE_URL="$mock/v1" ANTHROPIC_API_KEY=sk-ant-e2e ANTHROPIC_BASE_URL="$mock" \
    GEMINI_API_KEY=gm-e2e GEMINI_BASE_URL="$mock" PERSONA_BUNDLED_PERSONAS="$root/personas" \
    "$bin/persona" serve --port 0 --home "$work/home" > "$work/serve.out" 2> "$work/serve.err" &
pids+=($!)
for _ in $(seq 100); do grep -q http "$work/serve.out" && break; sleep 0.1; done
url="$(head -1 "$work/serve.out")"
[ -n "$url" ] || { echo "persona serve did not start"; cat "$work/serve.err"; exit 1; }

status=0
"$python" "$root/Tests/e2e/openai_sdk_client.py" "$url/v1" anthropic:mock gemini:mock openai:mock || status=1
rows="$("$bin/persona" costs entries --json --limit 100 --home "$work/home" | "$python" -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')"
if [ "$rows" = "6" ]; then echo "ok   the ledger has a row for each of the 6 answers"; else echo "FAIL the ledger has $rows rows, not 6"; status=1; fi
if curl -sf "$url/api/v1/costs/summary" | grep -q '"request_count":6'; then echo "ok   curl reads the same rows from /api/v1/costs/summary"
else echo "FAIL /api/v1/costs/summary"; status=1; fi
if grep -q "sk-e2e\|sk-ant-e2e\|gm-e2e" "$work/serve.out" "$work/serve.err"; then echo "FAIL a provider key was printed"; status=1
else echo "ok   no provider key in the server's output"; fi
exit $status

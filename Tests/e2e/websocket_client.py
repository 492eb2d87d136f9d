"""The seed API's WebSockets through `persona serve`, driven by the `websockets` package.

Usage: websocket_client.py WS_BASE HTTP_BASE KEY   (e.g. ws://127.0.0.1:8000 http://127.0.0.1:8000 key)
/ws/generate streams tokens and a done with usage and cost; /ws/providers pushes a health_update
for each provider, then a circuit_breaker when one opens and a rate_limit_warning near a limit.
Prints one line per check and exits 1 if any failed.
"""
import asyncio
import json
import sys
import urllib.request

import websockets

ws_base, http_base, key = sys.argv[1], sys.argv[2], sys.argv[3]
keyed = {"X-API-Key": key}
failed = 0


def check(name, ok, detail=""):
    global failed
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    failed += 0 if ok else 1


def post(path, body):
    request = urllib.request.Request(http_base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **keyed})
    try:
        with urllib.request.urlopen(request) as reply:
            return reply.status
    except urllib.error.HTTPError as error:
        return error.code


async def receive_until(socket, predicate, seconds=10):
    seen = []
    async with asyncio.timeout(seconds):
        while True:
            message = json.loads(await socket.recv())
            seen.append(message)
            if predicate(message):
                return seen


async def main():
    async with websockets.connect(ws_base + "/ws/generate", additional_headers=keyed) as socket:
        await socket.send(json.dumps({"action": "generate", "prompt": "Tea or coffee?", "max_tokens": 50, "model": "openai:mock"}))
        seen = await receive_until(socket, lambda m: m["type"] in ("done", "error"))
        tokens = [m for m in seen if m["type"] == "token"]
        done = seen[-1]
        check("/ws/generate streams tokens", len(tokens) > 0 and [t["index"] for t in tokens] == list(range(len(tokens))), seen[:3])
        check("then a done with usage and cost", done["type"] == "done" and done["usage"]["completion_tokens"] > 0
              and done["cost"] is not None, done)
        await socket.send(json.dumps({"action": "generate"}))
        error = json.loads(await socket.recv())
        check("a bad message gets an error naming the field", error["type"] == "error" and error["field"] == "prompt", error)

    async with websockets.connect(ws_base + "/ws/providers", additional_headers=keyed) as socket:
        seen = await receive_until(socket, lambda m: m["type"] == "health_update" and m["provider"] == "openai")
        check("/ws/providers tells each provider's health at once", seen[-1]["status"] == "healthy", seen)
        # Two failing requests open anthropic's breaker (failure_threshold: 2), as they happen.
        for _ in range(2):
            post("/api/v1/generate", {"prompt": "Tea?", "model": "anthropic:mock+status=500"})
        seen = await receive_until(socket, lambda m: m["type"] == "circuit_breaker")
        check("a breaker that opens is pushed", seen[-1]["provider"] == "anthropic" and seen[-1]["state"] == "open", seen[-1])
        # openai allows 10 requests a minute: under a tenth left, a warning comes.
        for _ in range(9):
            post("/api/v1/generate", {"prompt": "Tea?", "model": "openai:mock"})
        seen = await receive_until(socket, lambda m: m["type"] == "rate_limit_warning")
        check("a rate limit running out is warned of", seen[-1]["provider"] == "openai" and seen[-1]["remaining"] < 1, seen[-1])

    async with websockets.connect(ws_base + "/ws/providers", additional_headers={"X-API-Key": "wrong"}) as socket:
        refusal = json.loads(await socket.recv())
        try:
            await socket.recv()
            closed = None
        except websockets.exceptions.ConnectionClosed as error:
            closed = error.rcvd.code if error.rcvd else None
        check("a wrong key gets a 401 and a closed socket", refusal["status_code"] == 401 and closed == 1008, (refusal, closed))


asyncio.run(main())
sys.exit(1 if failed else 0)

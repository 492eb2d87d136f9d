"""The official OpenAI Python SDK, pointed at `persona serve`, as any existing client would be.

Usage: openai_sdk_client.py BASE_URL MODEL...   (BASE_URL ends in /v1)
For each model it streams a chat completion with usage, then asks once without streaming, and
checks what came back; it prints one line per check and exits 1 if any failed.
"""
import sys

from openai import OpenAI

base_url, models = sys.argv[1], sys.argv[2:]
client = OpenAI(base_url=base_url, api_key="not-needed-on-loopback")
failed = 0


def check(name, ok, detail=""):
    global failed
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    failed += 0 if ok else 1


listed = [model.id for model in client.models.list()]
check("models.list names the personas", any(name.startswith("persona/") for name in listed), listed)

for model in models:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tea or coffee?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    check(f"{model}: streams text", len(text) > 0, repr(text))
    check(f"{model}: ends with a finish reason", finish == "stop", finish)
    check(f"{model}: reports usage", usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0, usage)

    answer = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Tea or coffee?"}]
    )
    completion = answer.parse()
    check(f"{model}: answers without streaming", len(completion.choices[0].message.content or "") > 0, completion)
    check(f"{model}: names who answered", answer.headers.get("x-provider-used") == model.split(":")[0], dict(answer.headers))
    check(f"{model}: prices the answer", answer.headers.get("x-request-cost", "").startswith("$"), dict(answer.headers))

try:
    client.chat.completions.create(model="openai:mock", messages=[])
    check("an empty message list is refused", False, "no error")
except Exception as error:  # the SDK raises its BadRequestError
    check("an empty message list is refused with a 400", getattr(error, "status_code", None) == 400, error)

sys.exit(1 if failed else 0)

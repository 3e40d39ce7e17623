"""The ``llm`` node. No language model can run on this machine (no GPU, nothing may be
downloaded), so these tests talk to a local HTTP server started here that speaks the OpenAI chat
completions protocol: it checks the request the node sends and answers as such an endpoint
does (a completion, a 429 with Retry-After, a 400 with an error object)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import hub
from hub import ExecutionStatus
from hub.errors import StepFailed
from tests.conftest import run_node

KEY = "sk-test-" + uuid.uuid4().hex


class FakeProvider(ThreadingHTTPServer):
    """An OpenAI-compatible endpoint: the answer is the last user message, reversed."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Completions)
        self.requests: list[dict[str, Any]] = []
        self.limit_first = 0  # answer 429 to this many requests first

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Completions(BaseHTTPRequestHandler):
    server: FakeProvider

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(
            {"path": self.path, "body": body, "headers": dict(self.headers)}
        )
        if self.path != "/v1/chat/completions":
            return self._answer(404, {"error": {"message": f"no route {self.path}"}})
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._answer(401, {"error": {"message": "Incorrect API key provided"}})
        if body["model"] == "missing-model":
            return self._answer(400, {"error": {"message": "The model does not exist"}})
        if self.server.limit_first > 0:
            self.server.limit_first -= 1
            return self._answer(429, {"error": {"message": "Rate limit"}}, {"Retry-After": "0"})
        last = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
        self._answer(
            200,
            {
                "id": "chatcmpl-1",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": last[::-1]},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
            },
        )
        return None


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    server = FakeProvider()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_completion_with_text_usage_and_finish_reason(provider: FakeProvider) -> None:
    out = run_node(
        "llm",
        base_url=provider.base_url,
        api_key=KEY,
        model="small-1",
        system="Answer briefly.",
        prompt="hello",
        temperature=0.2,
        max_tokens=16,
        extra={"top_p": 0.9},
    )
    assert out["text"] == "olleh" and out["finish_reason"] == "stop"
    assert out["usage"]["total_tokens"] == 10 and out["model"] == "small-1"
    [sent] = provider.requests
    assert sent["body"] == {
        "top_p": 0.9,
        "model": "small-1",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "hello"},
        ],
        "temperature": 0.2,
        "max_tokens": 16,
    }


def test_a_rate_limit_is_waited_out_or_fails_by_the_strategy(provider: FakeProvider) -> None:
    base = {"base_url": provider.base_url, "api_key": KEY, "model": "m", "prompt": "abc"}
    provider.limit_first = 2
    assert run_node("llm", **base, max_retries=2)["text"] == "cba"
    assert len(provider.requests) == 3
    provider.limit_first = 1
    with pytest.raises(StepFailed) as caught:
        run_node("llm", **base, rate_limit_strategy="fail")
    assert caught.value.category == "http_status" and caught.value.retryable
    assert "answered 429: Rate limit" in str(caught.value)


def test_provider_errors_are_shown_and_final(provider: FakeProvider) -> None:
    base = {"base_url": provider.base_url, "prompt": "x"}
    with pytest.raises(StepFailed, match="answered 401: Incorrect API key") as caught:
        run_node("llm", **base, api_key="wrong", model="m")
    assert not caught.value.retryable and len(provider.requests) == 1
    with pytest.raises(StepFailed, match="answered 400: The model does not exist"):
        run_node("llm", **base, api_key=KEY, model="missing-model")
    with pytest.raises(StepFailed, match="no model: set the node's 'model'"):
        run_node("llm", **base, api_key=KEY)
    with pytest.raises(StepFailed, match="either 'prompt'"):
        run_node("llm", base_url=provider.base_url, model="m")


@pytest.mark.ray
def test_the_runtimes_ai_settings_are_the_defaults(
    runtime: hub.Client, api: Any, provider: FakeProvider
) -> None:
    name = f"llm_{uuid.uuid4().hex[:8]}"
    assert api.put(f"/credentials/{name}", json={"value": KEY}).status_code == 204
    before = api.get("/settings").json()["settings"]
    changed = api.put(
        "/settings",
        json={"ai": {**before["ai"], "default_model": "house-model", "temperature": 0.1}},
    )
    assert changed.status_code == 200, changed.text
    try:
        doc = {
            "id": f"ask-{uuid.uuid4().hex[:8]}",
            "inputs": {"q": {"type": "string", "required": True}},
            "nodes": [
                {
                    "id": "ask",
                    "type": "llm",
                    "parameters": {
                        "base_url": provider.base_url,
                        "api_key": f"{{{{ $credential.{name} }}}}",
                        "prompt": "{{ $input.q }}",
                        "max_tokens": 5,
                    },
                }
            ],
        }
        final = runtime.run(doc, {"q": "ping"}, timeout_s=120)
    finally:
        api.put("/settings", json={"ai": before["ai"]})
    assert final.status == ExecutionStatus.COMPLETED, final.error
    assert final.outputs["ask"]["text"] == "gnip"
    [sent] = provider.requests
    assert sent["body"]["model"] == "house-model"  # the runtime's default
    assert sent["body"]["temperature"] == 0.1 and sent["body"]["max_tokens"] == 5  # node wins
    assert KEY not in json.dumps(final.model_dump(mode="json"))  # the key stays a secret

"""The outbound ``webhook`` node on the session's runtime: a receiving server started here checks
the X-Hub-Signature-256 signature with its own copy of the secret (kept in a credential on the
runtime's side), and answers 503 at first so the node's retry policy is exercised."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import hub
from hub import ExecutionStatus

pytestmark = pytest.mark.ray

SECRET = "whsec-" + uuid.uuid4().hex


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Hook)
        self.deliveries: list[dict[str, Any]] = []
        self.refuse_first = 0  # answer 503 to this many deliveries first

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Hook(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        expected = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, self.headers.get("X-Hub-Signature-256", ""))
        self.server.deliveries.append(
            {"body": json.loads(raw), "valid": valid, "headers": dict(self.headers)}
        )
        if not valid:
            status = 401
        elif self.server.refuse_first > 0:
            self.server.refuse_first -= 1
            status = 503
        else:
            status = 200
        answer = json.dumps({"ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def hook_doc(url: str, credential: str) -> dict[str, Any]:
    return {
        "id": f"hook-{uuid.uuid4().hex[:8]}",
        "inputs": {"order": {"type": "object", "required": True}},
        "nodes": [
            {
                "id": "notify",
                "type": "webhook",
                "parameters": {
                    "url": url,
                    "payload": {"event": "order.created", "order": "{{ $input.order }}"},
                    "secret": f"{{{{ $credential.{credential} }}}}",
                },
                "retry": {"max_attempts": 3, "backoff_s": 0.1},
            }
        ],
    }


def test_a_signed_delivery_is_verified_by_the_receiver_after_a_retry(
    runtime: hub.Client, api: Any, receiver: Receiver
) -> None:
    name = f"hook_{uuid.uuid4().hex[:8]}"
    assert api.put(f"/credentials/{name}", json={"value": SECRET}).status_code == 204
    receiver.refuse_first = 1
    order = {"id": 7, "items": ["ü", 2.5]}
    final = runtime.run(hook_doc(receiver.url, name), {"order": order}, timeout_s=120)
    assert final.status == ExecutionStatus.COMPLETED, final.error
    assert [d["valid"] for d in receiver.deliveries] == [True, True]
    assert receiver.deliveries[-1]["body"] == {"event": "order.created", "order": order}
    attempts = [d["headers"]["X-Hub-Delivery"].rsplit(":", 1)[1] for d in receiver.deliveries]
    assert attempts == ["1", "2"]  # the retry policy's second attempt was delivered
    out = final.outputs["notify"]
    assert out["status_code"] == 200 and out["delivery"].endswith(":notify:2")
    assert SECRET not in json.dumps(final.model_dump(mode="json"))


def test_a_wrong_secret_is_refused_and_not_retried(
    runtime: hub.Client, api: Any, receiver: Receiver
) -> None:
    name = f"hook_{uuid.uuid4().hex[:8]}"
    assert api.put(f"/credentials/{name}", json={"value": "not-the-secret"}).status_code == 204
    final = runtime.run(hook_doc(receiver.url, name), {"order": {"id": 1}}, timeout_s=120)
    assert final.status == ExecutionStatus.FAILED
    assert final.error is not None and final.error.category == "http_status"
    assert "answered 401" in final.error.message
    assert [d["valid"] for d in receiver.deliveries] == [False]  # a 4xx is not retried

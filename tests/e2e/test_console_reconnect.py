"""The monitor survives a dropped connection: the browser reaches the API through a TCP relay
that the test cuts mid-run; EventSource reconnects with Last-Event-ID and the page ends with
every step right."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_api import chain, create, start

pytestmark = pytest.mark.ray


class Relay:
    """A TCP relay on loopback to ``target``; :meth:`cut` closes every open connection."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.open: list[socket.socket] = []
        self.sent: list[bytes] = []  # what browsers sent upstream, chunk by chunk
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.closed:  # accepted while the test closed the relay
                    client.close()
                    upstream.close()
                    return
                self.open += [client, upstream]
            for a, b, log in ((client, upstream, self.sent), (upstream, client, None)):
                threading.Thread(target=self._pipe, args=(a, b, log), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, log: list[bytes] | None) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if log is not None:
                    log.append(data)
                sink.sendall(data)
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self.lock:
            cut, self.open = self.open, []
        for s in cut:
            # shutdown raises when a pipe thread already shut the socket down; close regardless
            # (a socket left open is a ResourceWarning that fails the test at teardown).
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def close(self) -> None:
        with self.lock:
            self.closed = True
        self.server.close()
        self.cut()


@pytest.fixture
def relay(api_url: str) -> Iterator[Relay]:
    url = urlparse(api_url)
    found = Relay((url.hostname or "127.0.0.1", url.port or 80))
    try:
        yield found
    finally:
        found.close()


def test_the_monitor_resumes_after_a_dropped_connection_without_losing_events(
    anonymous: Any, relay: Relay, api: httpx.Client, api_token: str
) -> None:
    doc = {
        "id": f"console-relay-{uuid.uuid4().hex[:10]}",
        "nodes": [
            {"id": "first", "type": "delay", "parameters": {"seconds": 2}},
            {"id": "second", "type": "delay", "parameters": {"seconds": 2}},
            {"id": "third", "type": "set", "parameters": {"values": {"ok": True}}},
        ],
        "edges": chain("first", "second", "third"),
    }
    create(api, doc)
    console_url = f"http://127.0.0.1:{relay.port}/ui"
    page = anonymous
    sign_in(page, console_url, api_token)
    streams: list[dict[str, str]] = []
    page.on(
        "request",
        lambda request: (
            streams.append(request.headers) if request.url.endswith("/events") else None
        ),
    )
    execution_id = start(api, doc["id"])
    page.goto(f"{console_url}/executions/{execution_id}")
    expect(page.get_by_role("button", name="first: running")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="first: completed")).to_be_visible(timeout=30_000)
    relay.cut()  # mid-run: "second" is running, "third" has not started

    for node in ("first", "second", "third"):
        expect(page.get_by_role("button", name=f"{node}: completed")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("3/3 steps done")).to_be_visible()
    # On the wire: the stream was asked for again, from the last event the page had.
    requests = [
        chunk.decode("latin-1")
        for chunk in relay.sent
        if chunk.startswith(f"GET /api/v1/executions/{execution_id}/events".encode())
    ]
    assert len(requests) >= 2, "the event stream was never opened again"
    resumed = [re.search(r"(?im)^last-event-id: *(\d+)", r) for r in requests[1:]]
    ids = [int(m.group(1)) for m in resumed if m]
    assert ids and ids[0] > 0, f"no reconnect carried Last-Event-ID: {requests[1:]}"

"""ASGI middleware: refuse oversized bodies (413) and write the audit log of mutating calls.

Plain ASGI rather than Starlette's BaseHTTPMiddleware, so live streams pass through untouched.
Only a caller with a valid token costs a write: a request that never got past the token check
(401, an unknown route, a body refused before it) leaves nothing in the store, so anyone who can
reach the port cannot fill the audit log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.history import AuditEntry
from hub.records import AppendAudit
from serve._errors import error_response

_log = logging.getLogger("runtime_hub.api")
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POSTs that change nothing: compile a document, evaluate an expression.
READ_ONLY_POSTS = ("/workflows/validate", "/evaluate", "/settings/validate")


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        over = started = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:  # FastAPI turns the cut-off body into a 400: answer 413 instead
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if over and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_bytes} bytes",
            {"max_bytes": self.max_bytes},
        )
        await response(scope, receive, send)


class AuditLog:
    """After every mutating call by an authenticated caller, an audit entry: who (the token's
    caller), what (the action a route named, or method and path), the target and the answer's
    status. Calls without a valid token are not recorded."""

    def __init__(self, app: ASGIApp, write: Callable[[AuditEntry], Awaitable[Any]]) -> None:
        self.app, self.write = app, write

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in MUTATING
            or scope["path"].endswith(READ_ONLY_POSTS)
        ):
            await self.app(scope, receive, send)
            return
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        state = scope.get("state") or {}
        if state.get("audit_written"):  # the route wrote it with its own commit
            return
        if not state.get("actor"):  # never authenticated (serve._auth sets it): no write
            return
        action, target, details = state.get("audit") or (None, None, {})
        entry = audit_entry(scope, status, action, target, details)
        try:
            await self.write(entry)
        except Exception:  # the answer is sent; a lost audit line must not turn it into a 500
            _log.exception("could not write the audit entry for %s", entry.action)


def audit_entry(
    scope: Scope,
    status: int,
    action: str | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """The audit entry of a call: who (the token's caller), what, on what, and the status."""
    state = scope.get("state") or {}
    return AuditEntry(
        actor=state.get("actor") or "unknown",
        action=action or f"{scope['method']} {scope['path']}",
        target=target,
        details={
            **(details or {}),
            "status": status,
            "method": scope["method"],
            "path": scope["path"],
        },
    )


def audit_writer(backend: Any) -> Callable[[AuditEntry], Awaitable[Any]]:
    async def write(entry: AuditEntry) -> None:
        # Sent, not awaited: the Recorder group-commits it with the run's own records, and
        # calls from this replica reach it in order, so a later read of the log sees it.
        backend.recorder.record.remote([AppendAudit(entry=entry)])

    return write

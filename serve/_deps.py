"""What routes get injected: the runtime backend and the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request

from hub.history import AuditEntry
from serve._backend import RuntimeBackend
from serve._config import ApiConfig
from serve._middleware import audit_entry


async def backend(request: Request) -> RuntimeBackend:
    found: RuntimeBackend = request.app.state.backend
    return found


async def config(request: Request) -> ApiConfig:
    found: ApiConfig = request.app.state.config
    return found


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def audit(request: Request, action: str, target: str | None = None, **details: Any) -> None:
    """Note what a mutating call did; the audit middleware writes it after the response."""
    request.state.audit = (action, target, details)


def audit_with_commit(
    request: Request, status: int, action: str, target: str, **details: Any
) -> AuditEntry:
    """The audit entry of a call that writes it itself, in the same commit as what it
    changes (durable with it); the middleware then writes nothing more, unless the call
    fails."""
    request.state.audit = (action, target, details)
    return audit_entry(request.scope, status, action, target, details)


def audit_written(request: Request) -> None:
    request.state.audit_written = True

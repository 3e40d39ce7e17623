"""What routes get injected: the runtime backend and the caller."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request

from serve._backend import RuntimeBackend
from serve._config import ApiConfig


def backend(request: Request) -> RuntimeBackend:
    found: RuntimeBackend = request.app.state.backend
    return found


def config(request: Request) -> ApiConfig:
    found: ApiConfig = request.app.state.config
    return found


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def audit(request: Request, action: str, target: str | None = None, **details: Any) -> None:
    """Note what a mutating call did; the audit middleware writes it after the response."""
    request.state.audit = (action, target, details)

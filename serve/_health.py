"""``GET /health``: each component of the runtime checked, its uptime, the version; 503 when one
is down, so load balancers and ``ray up`` health checks can rely on it.

Every probe runs at once with a time budget of its own: a component that does not answer within
``PROBE_TIMEOUT_S`` is down (an actor Ray is restarting answers only once it is back, and a
health check must answer before the balancer gives up on it). A probe never raises: whatever
fails becomes the component's ``message``. The plain logic here takes its probes as async
callables, so it is tested without a runtime; ``serve._app`` gives it the real ones.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from hub.errors import HubError
from hub.records import utcnow

PROBE_TIMEOUT_S = 5.0
PACKAGE = "runtime-hub"

Status = Literal["ok", "down"]
# What a probe answers when its component is up: facts to report (a ``started_at`` becomes the
# component's ``uptime_s``).
Probe = Callable[[], Awaitable[Mapping[str, Any]]]


class ComponentHealth(BaseModel):
    status: Status
    message: str | None = Field(default=None, description="Why the component is down")
    latency_ms: int = Field(description="How long the probe took")
    uptime_s: float | None = Field(default=None, description="Since its process started")
    details: dict[str, Any] = Field(default_factory=dict)


class HealthReport(BaseModel):
    status: Status = Field(description="`ok` when every component is")
    version: str = Field(description="The runtime-hub package the API runs")
    api_version: str = "1"
    uptime_s: float | None = Field(
        description="Since the supervisor (the runtime's core) started; null while it is down"
    )
    components: dict[str, ComponentHealth]

    @property
    def down(self) -> list[str]:
        return [name for name, c in self.components.items() if c.status != "ok"]

    def summary(self) -> str:
        """One line naming each component that is down and why."""
        return "; ".join(f"{name}: {self.components[name].message}" for name in self.down)


def package_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:  # run from a tree that was never installed
        return "unknown"


async def probe(check: Probe, timeout_s: float = PROBE_TIMEOUT_S) -> ComponentHealth:
    """One component's health: ``check`` answering within ``timeout_s``, or why not."""
    started = time.perf_counter()
    message: str | None = None
    facts: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout_s):
            facts = dict(await check())
    except TimeoutError:
        message = f"no answer within {timeout_s:g} s"
    except HubError as exc:
        message = exc.message
    except Exception as exc:  # a health check reports every failure; it never raises one
        message = f"{type(exc).__name__}: {exc}"
    latency_ms = round((time.perf_counter() - started) * 1000)
    if message is not None:
        return ComponentHealth(status="down", message=message, latency_ms=latency_ms)
    started_at = facts.pop("started_at", None)
    uptime_s = None
    if isinstance(started_at, datetime):
        uptime_s = round((utcnow() - started_at).total_seconds(), 3)
        facts["started_at"] = started_at.isoformat().replace("+00:00", "Z")
    return ComponentHealth(status="ok", latency_ms=latency_ms, uptime_s=uptime_s, details=facts)


async def check_health(
    probes: Mapping[str, Probe], *, timeout_s: float = PROBE_TIMEOUT_S
) -> HealthReport:
    """Every component probed at once; the runtime is ``ok`` only when all of them are."""
    results = await asyncio.gather(*(probe(check, timeout_s) for check in probes.values()))
    components = dict(zip(probes, results, strict=True))
    supervisor = components.get("supervisor")
    return HealthReport(
        status="ok" if all(c.status == "ok" for c in results) else "down",
        version=package_version(),
        uptime_s=supervisor.uptime_s if supervisor else None,
        components=components,
    )

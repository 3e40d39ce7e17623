"""Circuit breakers: stop calling a target that keeps failing, and probe it again later.

The rules (docs/dsl.md, "Circuit breakers"):

- One breaker per key: ``http:<host>:<port>`` for an http node's target, ``node:<workflow>:<node>``
  for a code or shell node, ``workflow:<workflow>`` for a workflow's executions (:func:`step_key`,
  :func:`workflow_key`).
- ``closed`` → ``open`` once ``failure_threshold`` failures fall within the last ``window_s``
  seconds; ``open`` → ``half_open`` once ``reset_timeout_s`` have passed; a half-open breaker lets
  up to ``half_open_max_calls`` probe calls through at a time, and the first probe to report
  closes it (success) or opens it again for another ``reset_timeout_s`` (failure).
- Only a probe's outcome moves a half-open breaker: a call let through while it was closed that
  reports after it opened changes nothing. A probe that has not reported within
  ``reset_timeout_s`` is presumed lost and its slot is given to the next caller; should it report
  after all, that changes nothing either.
- A breaker's settings are those of its latest caller (workflows that share an http target may
  configure it differently; the last call's settings apply).

This module is the pure state machine, with an injectable clock (:class:`BreakerBoard`), and the
rule for keys. The BreakerActor (actors/breakers.py) holds the one board of a runtime;
hub.run_breakers puts an execution's calls through it.
"""

from __future__ import annotations

import difflib
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.errors import NotFound

BREAKERS_NAME = "breakers"  # the BreakerActor's name in the runtime's namespace
# A breaker board forgets closed breakers without recent failures past this many keys.
MAX_KEYS = 10_000


class BreakerSettings(BaseModel):
    """``circuit_breaker`` in the runtime settings and in a workflow's ``settings``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    failure_threshold: int = Field(
        default=5, ge=1, le=10_000, description="failures within window_s that open a breaker"
    )
    window_s: float = Field(
        default=60.0, gt=0, le=86_400, description="seconds over which failures are counted"
    )
    reset_timeout_s: float = Field(
        default=30.0, gt=0, le=86_400, description="seconds an open breaker waits to probe"
    )
    half_open_max_calls: int = Field(
        default=1, ge=1, le=1_000, description="probe calls a half-open breaker lets through"
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # The compiler's own hint looks among the workflow settings' keys: name the close one.
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), list(cls.model_fields), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise ValueError(
                        f"unknown key {key!r} in circuit_breaker{hint} "
                        f"(known: {', '.join(cls.model_fields)})"
                    )
        return data


def effective_breaker(runtime: BreakerSettings, document: Any) -> dict[str, Any] | None:
    """The ``circuit_breaker`` a workflow runs with: the keys its document gives over the
    runtime's settings; the runtime's when the document says nothing; None (nothing added to
    the document) when it says nothing and the runtime's are off."""
    if isinstance(document, dict):
        return {**runtime.model_dump(), **document}
    if document is None and runtime.enabled:
        return runtime.model_dump()
    return None  # not an object: the compiler reports it


class BreakerState(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


# ``ray_hub_breaker_state``'s value for each state.
STATE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Permit(_Message):
    """A breaker's answer to "may I call?". ``token`` marks a half-open probe: its outcome is
    reported with it."""

    key: str
    allowed: bool
    state: BreakerState
    token: str | None = None
    failures: int = 0  # refused: how many failures opened it, within window_s
    window_s: float = 0.0
    probe_at: datetime | None = None  # refused: when a probe will be let through
    last_error: str | None = None

    def refusal(self, what: str) -> str:
        """Why the call (``what``: "the call was not made") was refused."""
        at = self.probe_at
        when = at.isoformat(timespec="milliseconds").replace("+00:00", "Z") if at else "soon"
        if self.state == BreakerState.HALF_OPEN:
            why = "is half-open and its probe calls are in flight"
        else:
            why = f"is open after {self.failures} failures within {self.window_s:g}s"
            if self.last_error:
                why += f" (last: {self.last_error[:200]})"
        return f"circuit breaker {self.key} {why}: {what}; it lets a probe through at {when}"


class Outcome(_Message):
    """What a call let through by a breaker came to: ``ok`` (the target answered) or not."""

    ok: bool
    token: str | None = None
    error: str | None = None


class BreakerView(_Message):
    """One breaker as ``hub breakers ls`` and ``GET /api/v1/breakers`` show it."""

    key: str
    state: BreakerState
    failures: int  # within the last window_s
    probes_in_flight: int
    opened_at: datetime | None = None
    probe_at: datetime | None = None  # open: when it turns half-open
    changed_at: datetime
    last_error: str | None = None
    settings: BreakerSettings


class BreakerSummary(_Message):
    """The breakers in ``hub status`` and ``GET /api/v1/runtime``."""

    closed: int = 0
    half_open: int = 0
    open: int = 0
    open_keys: list[str] = Field(default_factory=list)
    half_open_keys: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, views: list[BreakerView]) -> BreakerSummary:
        summary = cls()
        for view in sorted(views, key=lambda v: v.key):
            if view.state == BreakerState.CLOSED:
                summary.closed += 1
            elif view.state == BreakerState.HALF_OPEN:
                summary.half_open += 1
                summary.half_open_keys.append(view.key)
            else:
                summary.open += 1
                summary.open_keys.append(view.key)
        return summary


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Breaker:
    """One key's state machine. Times are the board's clock readings (seconds)."""

    def __init__(self, key: str, settings: BreakerSettings, now: float) -> None:
        self.key = key
        self.settings = settings
        self.state = BreakerState.CLOSED
        self.failures: deque[float] = deque()
        self.opened_at: float | None = None
        self.probes: dict[str, float] = {}  # token -> when it was let through
        self.changed_at = now
        self.used_at = now
        self.last_error: str | None = None

    def advance(self, now: float) -> BreakerState | None:
        """The transitions time makes; the new state when it changed."""
        reset = self.settings.reset_timeout_s
        while self.failures and self.failures[0] <= now - self.settings.window_s:
            self.failures.popleft()
        if self.state == BreakerState.OPEN and now >= (self.opened_at or now) + reset:
            return self.move(BreakerState.HALF_OPEN, now)
        if self.state == BreakerState.HALF_OPEN:
            self.probes = {t: at for t, at in self.probes.items() if now < at + reset}
        return None

    def move(self, state: BreakerState, now: float) -> BreakerState:
        self.state, self.changed_at = state, now
        self.probes.clear()
        if state == BreakerState.OPEN:
            self.opened_at = now
        else:
            self.failures.clear()
            if state == BreakerState.CLOSED:
                self.opened_at = None
        return state

    def acquire(self, now: float) -> Permit:
        if self.state == BreakerState.CLOSED:
            return Permit(key=self.key, allowed=True, state=self.state)
        if self.state == BreakerState.HALF_OPEN:
            if len(self.probes) < self.settings.half_open_max_calls:
                token = uuid.uuid4().hex
                self.probes[token] = now
                return Permit(key=self.key, allowed=True, state=self.state, token=token)
            probe_at = min(self.probes.values()) + self.settings.reset_timeout_s
        else:
            probe_at = (self.opened_at or now) + self.settings.reset_timeout_s
        return Permit(
            key=self.key,
            allowed=False,
            state=self.state,
            failures=self.settings.failure_threshold,
            window_s=self.settings.window_s,
            probe_at=_at(probe_at),
            last_error=self.last_error,
        )

    def record(self, outcome: Outcome, now: float) -> BreakerState | None:
        """Apply an outcome; the new state when it changed."""
        if not outcome.ok:
            self.last_error = outcome.error
        if outcome.token is not None:
            if self.state != BreakerState.HALF_OPEN or self.probes.pop(outcome.token, None) is None:
                return None  # a probe presumed lost, or of an earlier half-open spell
            return self.move(BreakerState.CLOSED if outcome.ok else BreakerState.OPEN, now)
        if self.state != BreakerState.CLOSED or outcome.ok:
            return None
        self.failures.append(now)
        if len(self.failures) >= self.settings.failure_threshold:
            return self.move(BreakerState.OPEN, now)
        return None

    def view(self) -> BreakerView:
        probe_at = None
        if self.state == BreakerState.OPEN and self.opened_at is not None:
            probe_at = _at(self.opened_at + self.settings.reset_timeout_s)
        return BreakerView(
            key=self.key,
            state=self.state,
            failures=len(self.failures),
            probes_in_flight=len(self.probes),
            opened_at=_at(self.opened_at) if self.opened_at is not None else None,
            probe_at=probe_at,
            changed_at=_at(self.changed_at),
            last_error=self.last_error,
            settings=self.settings,
        )


Transition = Callable[[str, BreakerState], None]


class BreakerBoard:
    """Every breaker of a runtime. ``clock`` reads seconds since the epoch; ``on_transition``
    hears of each state change (metrics); neither may block."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        on_transition: Transition | None = None,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.clock = clock
        self.on_transition = on_transition
        self.max_keys = max_keys
        self.breakers: dict[str, Breaker] = {}

    def _breaker(self, key: str, settings: BreakerSettings, now: float) -> Breaker:
        breaker = self.breakers.get(key)
        if breaker is None:
            if len(self.breakers) >= self.max_keys:
                self._forget_idle()
            breaker = self.breakers[key] = Breaker(key, settings, now)
        breaker.settings, breaker.used_at = settings, now
        self._changed(key, breaker.advance(now))
        return breaker

    def _forget_idle(self) -> None:
        idle = sorted(
            (
                b
                for b in self.breakers.values()
                if b.state == BreakerState.CLOSED and not b.failures
            ),
            key=lambda b: b.used_at,
        )
        for breaker in idle[: max(1, len(idle) // 10)]:
            del self.breakers[breaker.key]

    def _changed(self, key: str, state: BreakerState | None) -> None:
        if state is not None and self.on_transition is not None:
            self.on_transition(key, state)

    def acquire(self, key: str, settings: BreakerSettings) -> Permit:
        now = self.clock()
        return self._breaker(key, settings, now).acquire(now)

    def record(self, key: str, settings: BreakerSettings, outcome: Outcome) -> BreakerState:
        now = self.clock()
        breaker = self._breaker(key, settings, now)
        self._changed(key, breaker.record(outcome, now))
        return breaker.state

    def release(self, key: str, token: str) -> None:
        """A probe ended without an outcome (cancelled): its slot is free again."""
        breaker = self.breakers.get(key)
        if breaker is not None:
            breaker.probes.pop(token, None)

    def tick(self) -> None:
        """Make the transitions time has made (open → half_open) for every breaker."""
        now = self.clock()
        for key, breaker in self.breakers.items():
            self._changed(key, breaker.advance(now))

    def states(self) -> dict[str, BreakerState]:
        return {key: b.state for key, b in self.breakers.items()}

    def views(self) -> list[BreakerView]:
        self.tick()
        return [self.breakers[k].view() for k in sorted(self.breakers)]

    def reset(self, key: str) -> BreakerView:
        """Close ``key``'s breaker now, forgetting its failures."""
        breaker = self.breakers.get(key)
        if breaker is None:
            raise NotFound(
                f"no circuit breaker {key!r}; `hub breakers ls` lists them",
                details={"key": key},
            )
        was = breaker.state
        breaker.move(BreakerState.CLOSED, self.clock())
        if was != BreakerState.CLOSED:
            self._changed(key, BreakerState.CLOSED)
        return breaker.view()

    def reset_all(self) -> list[str]:
        """Close every breaker; the keys of those that were not closed."""
        reset = [k for k, b in self.breakers.items() if b.state != BreakerState.CLOSED]
        for key in list(self.breakers):
            self.reset(key)
        return sorted(reset)

    def summary(self) -> BreakerSummary:
        return BreakerSummary.of(self.views())


# --- keys -------------------------------------------------------------------------------------


def http_key(url: str) -> str | None:
    """``http:<host>:<port>`` of an http(s) URL (the scheme's port when it names none; an IPv6
    host in brackets); None for a URL without a host."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"http:{host}:{port or (443 if parts.scheme == 'https' else 80)}"


def step_key(
    workflow_id: str, node_id: str, node_type: str, family: str | None, params: Any
) -> str | None:
    """The breaker a step's call goes through: its http target, or the code or shell node
    itself; None for node types without one."""
    if node_type == "http":
        url = params.get("url") if isinstance(params, dict) else None
        return http_key(url) if isinstance(url, str) else None
    if family in ("code", "shell"):
        return f"node:{workflow_id}:{node_id}"
    return None


def workflow_key(workflow_id: str) -> str:
    return f"workflow:{workflow_id}"


__all__ = [
    "BREAKERS_NAME",
    "MAX_KEYS",
    "STATE_VALUE",
    "Breaker",
    "BreakerBoard",
    "BreakerSettings",
    "BreakerState",
    "BreakerSummary",
    "BreakerView",
    "Outcome",
    "Permit",
    "effective_breaker",
    "http_key",
    "step_key",
    "workflow_key",
]

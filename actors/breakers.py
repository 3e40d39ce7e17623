"""The BreakerActor: the runtime's one board of circuit breakers (hub.breakers), shared by every
ExecutionActor, and read and reset by the API, the CLI and ``hub status``.

Detached and named (``breakers`` in the runtime's namespace), made by the first execution whose
workflow has breakers on. Its state lives in its memory only: Ray restarts it after a crash, and
the restarted actor starts with every breaker closed (docs/dsl.md, "Circuit breakers").
Breakers protect targets; they never stop work on their own account: an ExecutionActor that
cannot reach this actor lets its calls through, and says so in its log.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from ray.exceptions import RayError

from actors._metrics import BreakerMetrics, gauge_refresh_s
from actors._process import tune_process
from hub.breakers import (
    BREAKERS_NAME,
    STATE_VALUE,
    BreakerBoard,
    BreakerSettings,
    BreakerState,
    BreakerSummary,
    BreakerView,
    Outcome,
    Permit,
)

# How long a caller waits for the BreakerActor (say, while Ray restarts it) before it goes on
# without it.
CALL_TIMEOUT_S = 10.0
_log = logging.getLogger("runtime_hub.breakers")


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)
class BreakerActor:
    def __init__(self) -> None:
        tune_process()
        self.metrics = BreakerMetrics()
        self.board = BreakerBoard(on_transition=self._transition)
        # Async actors run __init__ on their event loop. Kept so the task is not collected.
        self.refresh = asyncio.get_running_loop().create_task(self._keep_fresh())

    def _transition(self, key: str, state: BreakerState) -> None:
        self.metrics.transition(key, state.value, STATE_VALUE[state])

    async def _keep_fresh(self) -> None:
        """Move open breakers whose time has come to half-open, and set every gauge again so
        none ages out of the metrics agent."""
        period = gauge_refresh_s()
        while True:
            self.board.tick()
            self.metrics.report({k: STATE_VALUE[s] for k, s in self.board.states().items()})
            await asyncio.sleep(period)

    async def acquire(self, key: str, settings: BreakerSettings) -> Permit:
        return self.board.acquire(key, settings)

    async def record(self, key: str, settings: BreakerSettings, outcome: Outcome) -> BreakerState:
        return self.board.record(key, settings, outcome)

    async def release(self, key: str, token: str) -> None:
        self.board.release(key, token)

    async def breakers(self) -> list[BreakerView]:
        return self.board.views()

    async def reset(self, key: str) -> BreakerView:
        return self.board.reset(key)

    async def reset_all(self) -> list[str]:
        return self.board.reset_all()

    async def summary(self) -> BreakerSummary:
        return self.board.summary()

    async def ping(self) -> bool:
        return True


def find_breakers(namespace: str) -> Any | None:
    """The runtime's BreakerActor, or None while no workflow has used a breaker."""
    try:
        return ray.get_actor(BREAKERS_NAME, namespace=namespace)
    except ValueError:
        return None


def breaker_actor(namespace: str) -> Any:
    """The runtime's BreakerActor, made if it does not exist yet."""
    try:
        return BreakerActor.options(  # type: ignore[attr-defined]
            name=BREAKERS_NAME, namespace=namespace, lifetime="detached", get_if_exists=True
        ).remote()
    except ValueError:  # another process made it at the same moment
        return ray.get_actor(BREAKERS_NAME, namespace=namespace)


async def breakers_summary(namespace: str) -> dict[str, Any]:
    """The breakers by state for ``hub status``; all zero while there is no BreakerActor."""
    handle = find_breakers(namespace)
    if handle is None:
        return BreakerSummary().model_dump(mode="json")
    try:
        summary: BreakerSummary = await asyncio.wait_for(handle.summary.remote(), 5)
    except (RayError, TimeoutError) as exc:
        return {"unavailable": f"the breaker actor did not answer: {type(exc).__name__}"}
    return summary.model_dump(mode="json")


class RayBreakers:
    """hub.run_breakers.BreakerClient over the BreakerActor, looked up (or made) on first use.
    The one boundary where Ray's errors on the way to it are met: a call it cannot ask goes
    through, as if its breaker were closed."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._handle: Any = None

    def handle(self) -> Any:
        if self._handle is None:
            self._handle = breaker_actor(self.namespace)
        return self._handle

    async def acquire(self, key: str, settings: BreakerSettings) -> Permit:
        try:
            permit: Permit = await asyncio.wait_for(
                self.handle().acquire.remote(key, settings), CALL_TIMEOUT_S
            )
        except (RayError, TimeoutError, ValueError) as exc:
            self._handle = None
            _log.warning("circuit breaker %s not asked, the call goes through: %r", key, exc)
            return Permit(key=key, allowed=True, state=BreakerState.CLOSED)
        return permit

    async def record(self, key: str, settings: BreakerSettings, outcome: Outcome) -> None:
        try:
            await asyncio.wait_for(
                self.handle().record.remote(key, settings, outcome), CALL_TIMEOUT_S
            )
        except (RayError, TimeoutError, ValueError) as exc:
            self._handle = None
            _log.warning("circuit breaker %s did not hear of a call's outcome: %r", key, exc)

    def release(self, key: str, token: str) -> None:
        if self._handle is not None:
            self._handle.release.remote(key, token)


__all__ = [
    "BREAKERS_NAME",
    "BreakerActor",
    "RayBreakers",
    "breaker_actor",
    "breakers_summary",
    "find_breakers",
]

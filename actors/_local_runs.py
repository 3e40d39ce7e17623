"""The runs the supervisor carries itself (docs/dsl.md, "Isolation modes": ``auto``): an
ExecutionHost in the supervisor's process, called the way an ExecutionActor's handle is
(``host.run.remote(order)``), so the supervisor drives, cancels, controls and suspends them
with the code it uses for every run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from hub.records import RunOrder


class _Method:
    def __init__(self, call: Callable[..., Coroutine[Any, Any, Any]]) -> None:
        self.call = call

    def options(self, **_: Any) -> _Method:  # a task name: there is no task to name
        return self

    def remote(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        """The call, started now on this loop (as an actor call starts when it is made)."""
        return asyncio.ensure_future(self.call(*args, **kwargs))


class SupervisorRuns:
    """An ExecutionHost in this process with an actor handle's call shape."""

    def __init__(self, host: Any) -> None:
        self.host = host

    def __getattr__(self, name: str) -> _Method:
        if name == "run":
            return _Method(self._run)
        return _Method(getattr(self.host, name))

    async def _run(self, order: RunOrder) -> Any:
        # An actor gets a copy of the order; the supervisor keeps its own (to park or end the
        # run), whose record the runner must not change under it. The runner sets the record's
        # fields (status, times, outputs, steps), never changes their values in place, and only
        # reads the rest of the order: a copy of the record's fields is enough (a deep copy of
        # its settings and inputs cost more than the rest of the hand-over).
        return await self.host.run(order.model_copy(update={"record": order.record.model_copy()}))

    def carried(self) -> int:
        return len(self.host.runners)

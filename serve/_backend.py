"""The replica's way to the runtime: the supervisor and Recorder actors, never the database.

Every Ray call of the API goes through :meth:`RuntimeBackend.call`; Ray failures become
HubErrors here (a HubError raised in an actor is raised as itself), so routes see only those.
"""

from __future__ import annotations

from typing import Any

from hub.errors import HubError, RuntimeUnavailable
from serve._config import ApiConfig


class RuntimeBackend:
    def __init__(self, config: ApiConfig) -> None:
        self.config = config
        self._supervisor: Any = None
        self._recorder: Any = None

    def _actor(self, name: str) -> Any:
        import ray

        try:
            return ray.get_actor(name, namespace=self.config.namespace)
        except ValueError:
            raise RuntimeUnavailable(
                f"the runtime is not running (no {name!r} actor); start it with `hub up`"
            ) from None

    @property
    def supervisor(self) -> Any:
        if self._supervisor is None:
            self._supervisor = self._actor(self.config.supervisor_name)
        return self._supervisor

    @property
    def recorder(self) -> Any:
        if self._recorder is None:
            self._recorder = self._actor(self.config.recorder_name)
        return self._recorder

    async def call(
        self, actor: str | Any, method: str, *args: Any, name: str = "desktop", **kwargs: Any
    ) -> Any:
        """``actor.method(*args, **kwargs)`` on ``"supervisor"``, ``"recorder"`` or a handle
        (``name`` says which actor a handle is, in errors)."""
        from ray.exceptions import RayActorError, RayTaskError

        if actor == "supervisor":
            handle = self.supervisor
        elif actor == "recorder":
            handle = self.recorder
        else:
            handle, actor = actor, name
        try:
            return await getattr(handle, method).remote(*args, **kwargs)
        except RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, HubError):
                raise cause from None
            # Never str(exc) itself: a RayTaskError's text is the remote traceback.
            reason = f"{type(cause).__name__}: {cause}" if cause else type(exc).__name__
            raise RuntimeUnavailable(f"the runtime failed: {reason}") from None
        except RayActorError:
            # The actor is being restarted (or is gone): look it up again next time.
            self._supervisor = self._recorder = None
            raise RuntimeUnavailable(
                f"the runtime's {actor} is restarting; try again in a moment"
            ) from None

    async def supervisor_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self.call("supervisor", method, *args, **kwargs)

    async def desktop_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        desktop = await self.supervisor_call("desktop")
        return await self.call(desktop, method, *args, **kwargs)

    async def recorder_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self.call("recorder", method, *args, **kwargs)

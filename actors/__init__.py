"""Ray actors: thin shells that hold Ray handles and call into the pure core in ``hub/``.

The actor classes are imported on first use (PEP 562, as in ``hub``): a worker process that
hosts one actor imports that actor's module only, not the other three and all they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub import _ray_env  # noqa: F401  (first: before anything imports Ray)
from hub._lazy import lazy_module

if TYPE_CHECKING:
    from actors.execution import ExecutionActor
    from actors.node_pool import NodeActor
    from actors.recorder import RecorderActor
    from actors.supervisor import SupervisorActor

NAMESPACE = "runtime-hub"
SUPERVISOR_NAME = "supervisor"
RECORDER_NAME = "recorder"

_ACTORS = {
    "ExecutionActor": "actors.execution",
    "NodeActor": "actors.node_pool",
    "RecorderActor": "actors.recorder",
    "SupervisorActor": "actors.supervisor",
}

__all__ = [  # spelled out for type checkers
    "NAMESPACE",
    "RECORDER_NAME",
    "SUPERVISOR_NAME",
    "ExecutionActor",
    "NodeActor",
    "RecorderActor",
    "SupervisorActor",
]


__getattr__, __dir__ = lazy_module(globals(), _ACTORS)

"""Ray actors: thin shells that hold Ray handles and call into the pure core in ``hub/``."""

from hub import _ray_env  # noqa: F401  (first: before anything imports Ray)

# isort: split
from actors.execution import ExecutionActor
from actors.node_pool import NodeActor
from actors.recorder import RecorderActor
from actors.supervisor import SupervisorActor

NAMESPACE = "runtime-hub"
SUPERVISOR_NAME = "supervisor"
RECORDER_NAME = "recorder"

__all__ = [
    "NAMESPACE",
    "RECORDER_NAME",
    "SUPERVISOR_NAME",
    "ExecutionActor",
    "NodeActor",
    "RecorderActor",
    "SupervisorActor",
]

"""Runtime Hub: durable JSON workflows on Ray actors.

``hub.connect()`` returns a :class:`Client`; everything else a script needs hangs off it.
"""

from hub import _ray_env  # noqa: F401  (first: before anything imports Ray)

# isort: split
from hub.client import Client, connect, load_document
from hub.compiler import CompileResult, Diagnostic, compile_workflow
from hub.errors import (
    ErrorCategory,
    ExpressionError,
    HubError,
    IllegalTransition,
    InputsInvalid,
    NodeFamilyDisabled,
    NotFound,
    RuntimeUnavailable,
    StepFailed,
    StoreError,
    WorkflowInvalid,
)
from hub.nodes import NodeContext, node_type
from hub.records import Event, ExecutionRecord, ExecutionStatus, StepRecord, StepStatus

__all__ = [
    # connecting and running
    "Client",
    "connect",
    "load_document",
    # compiling
    "CompileResult",
    "Diagnostic",
    "compile_workflow",
    # records
    "Event",
    "ExecutionRecord",
    "ExecutionStatus",
    "StepRecord",
    "StepStatus",
    # extending
    "NodeContext",
    "node_type",
    # errors
    "ErrorCategory",
    "ExpressionError",
    "HubError",
    "IllegalTransition",
    "InputsInvalid",
    "NodeFamilyDisabled",
    "NotFound",
    "RuntimeUnavailable",
    "StepFailed",
    "StoreError",
    "WorkflowInvalid",
]

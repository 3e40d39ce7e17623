"""Runtime Hub: durable JSON workflows on Ray actors.

``hub.connect()`` returns a :class:`Client`; everything else a script needs hangs off it.

The names below are imported on first use (PEP 562): every Ray worker process of the runtime
imports this package, and an ExecutionActor or a node actor has no use for the client, the
store or the compiler that a script's ``import hub`` brings (about 0.6 s of imports a process;
bench/README.md, "Processes that start faster").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hub import _ray_env  # noqa: F401  (first: before anything imports Ray)
from hub._lazy import lazy_module

if TYPE_CHECKING:
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

# The public names and the module each one lives in.
_PUBLIC = {
    # connecting and running
    "Client": "hub.client",
    "connect": "hub.client",
    "load_document": "hub.client",
    # compiling
    "CompileResult": "hub.compiler",
    "Diagnostic": "hub.compiler",
    "compile_workflow": "hub.compiler",
    # records
    "Event": "hub.records",
    "ExecutionRecord": "hub.records",
    "ExecutionStatus": "hub.records",
    "StepRecord": "hub.records",
    "StepStatus": "hub.records",
    # extending
    "NodeContext": "hub.nodes",
    "node_type": "hub.nodes",
    # errors
    "ErrorCategory": "hub.errors",
    "ExpressionError": "hub.errors",
    "HubError": "hub.errors",
    "IllegalTransition": "hub.errors",
    "InputsInvalid": "hub.errors",
    "NodeFamilyDisabled": "hub.errors",
    "NotFound": "hub.errors",
    "RuntimeUnavailable": "hub.errors",
    "StepFailed": "hub.errors",
    "StoreError": "hub.errors",
    "WorkflowInvalid": "hub.errors",
}

__all__ = [  # as in _PUBLIC; spelled out for type checkers
    "Client",
    "connect",
    "load_document",
    "CompileResult",
    "Diagnostic",
    "compile_workflow",
    "Event",
    "ExecutionRecord",
    "ExecutionStatus",
    "StepRecord",
    "StepStatus",
    "NodeContext",
    "node_type",
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


__getattr__, __dir__ = lazy_module(globals(), _PUBLIC)

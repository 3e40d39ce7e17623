"""Node types: the registry, the decorator that extends it, and the call messages."""

from hub.nodes._catalog import NodeTypeInfo, catalogue
from hub.nodes._context import LOG_LEVELS, LogLine, NodeCall, NodeContext, NodeResult
from hub.nodes._files import files_root
from hub.nodes._invoke import (
    check_family,
    ensure_json,
    failure_info,
    invoke,
    invoke_blocking_reporting,
    invoke_reporting,
    reported,
    run_here,
    step_timeout,
    to_step_failure,
    unwrap,
    validate_parameters,
)
from hub.nodes._registry import (
    DEFAULT_TIMEOUT_S,
    ENTRY_POINT_GROUP,
    NodeRegistry,
    NodeType,
    NoParameters,
    PoolConfig,
    UnknownNodeType,
    default_registry,
    load_plugins,
    node_type,
)
from hub.nodes._timeouts import attempt_timeout_s

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "ENTRY_POINT_GROUP",
    "LOG_LEVELS",
    "LogLine",
    "NoParameters",
    "NodeCall",
    "NodeContext",
    "NodeRegistry",
    "NodeResult",
    "NodeType",
    "NodeTypeInfo",
    "PoolConfig",
    "UnknownNodeType",
    "attempt_timeout_s",
    "catalogue",
    "check_family",
    "default_registry",
    "ensure_json",
    "failure_info",
    "invoke",
    "invoke_blocking_reporting",
    "invoke_reporting",
    "load_plugins",
    "reported",
    "run_here",
    "files_root",
    "node_type",
    "step_timeout",
    "to_step_failure",
    "unwrap",
    "validate_parameters",
]

"""One exception hierarchy for the runtime.

Every error a user can see derives from :class:`HubError`. Subclasses carry structured,
keyword-only fields; foreign exceptions (Ray, SQLAlchemy, httpx, OS) are translated into these at
one boundary each and never leak past it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCategory(StrEnum):
    """Why a step failed (docs/dsl.md, "Every step error carries ...")."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    HTTP_STATUS = "http_status"
    VALIDATION = "validation"
    EXPRESSION = "expression"
    NODE_ERROR = "node_error"
    RESOURCE_LIMIT = "resource_limit"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    CIRCUIT_OPEN = "circuit_open"  # an open circuit breaker refused the call (hub.breakers)


class Severity(StrEnum):
    """How bad a failure is, derived from its category (:data:`SEVERITY`)."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# One table (docs/dsl.md, "Error severity"): low, contained to the run and asked for or fixed
# in the run's own definition or inputs; medium, likely to pass on a retry or once a protected
# target recovers; high, a dependency, a node or the runtime under the run failing; critical,
# a resource of the runtime itself exhausted.
SEVERITY: dict[ErrorCategory, Severity] = {
    ErrorCategory.CANCELLED: Severity.LOW,
    ErrorCategory.VALIDATION: Severity.LOW,
    ErrorCategory.EXPRESSION: Severity.LOW,
    ErrorCategory.TIMEOUT: Severity.MEDIUM,
    ErrorCategory.HTTP_STATUS: Severity.MEDIUM,
    ErrorCategory.CIRCUIT_OPEN: Severity.MEDIUM,
    ErrorCategory.CONNECTION: Severity.HIGH,
    ErrorCategory.NODE_ERROR: Severity.HIGH,
    ErrorCategory.INTERRUPTED: Severity.HIGH,
    ErrorCategory.RESOURCE_LIMIT: Severity.CRITICAL,
}


def severity_of(category: str) -> Severity:
    """The severity of a failure of ``category``; ``medium`` for a category this version does
    not know (a record written by a newer one)."""
    try:
        return SEVERITY[ErrorCategory(category)]
    except ValueError:
        return Severity.MEDIUM


class HubError(Exception):
    """Root of every error raised by Runtime Hub."""

    code: str = "hub_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (Ray pickles them); keep keyword fields intact.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[HubError], message: str, state: dict[str, Any]) -> HubError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class WorkflowInvalid(HubError):
    """A workflow document has error diagnostics; it can neither be registered nor run."""

    code = "workflow_invalid"

    def __init__(self, message: str, *, diagnostics: list[dict[str, Any]]) -> None:
        super().__init__(message, details={"diagnostics": diagnostics})
        self.diagnostics = diagnostics


class InputsInvalid(HubError):
    """Run inputs do not match the workflow's input schema."""

    code = "inputs_invalid"

    def __init__(self, message: str, *, errors: list[dict[str, str]]) -> None:
        super().__init__(message, details={"errors": errors})
        self.errors = errors


class InvalidRequest(HubError):
    """A request's parameters are malformed (a bad cursor, an unknown sort key, a bad filter)."""

    code = "invalid_request"


class Conflict(HubError):
    """The request clashes with what is stored (a workflow version with another definition)."""

    code = "conflict"


class NoDesktopNode(Conflict):
    """The runtime has no node with a display (the ``desktop`` resource): nothing desktop can
    run. Not an outage: the runtime is up, it was started without one."""

    code = "no_desktop_node"


class NotFound(HubError):
    """A workflow, version or execution does not exist."""

    code = "not_found"


class IllegalTransition(HubError):
    """A lifecycle action that the current state does not allow (cancel a finished run...)."""

    code = "illegal_transition"


class NotRunningHere(HubError):
    """An action reached an actor that no longer (or not yet) runs that execution."""

    code = "not_running_here"


class Superseded(HubError):
    """A runner's writes were refused: another runner resumed its execution since (the first
    was presumed lost). The stale runner stops; the execution goes on with the new one."""

    code = "superseded"

    @classmethod
    def of(cls, execution_id: str) -> Superseded:
        return cls(
            f"execution {execution_id} was resumed by another runner; this one's writes are "
            "refused and it stops",
            details={"execution_id": execution_id},
        )


class CredentialMissing(NotFound):
    """A workflow refers to ``$credential.<name>`` and no credential of that name is stored."""

    code = "credential_missing"

    def __init__(self, names: list[str]) -> None:
        listed = ", ".join(repr(n) for n in names)
        how = "; ".join(f"PUT /api/v1/credentials/{n}" for n in names)
        super().__init__(
            f'credential {listed} is not stored; store it with {how} (body {{"value": ...}})'
            if len(names) == 1
            else f"credentials {listed} are not stored; store them with {how}",
            details={"names": names},
        )
        self.names = names


class NodeFamilyDisabled(HubError):
    """A dangerous node family (code, shell) is used while the settings keep it off."""

    code = "node_family_disabled"


class GateLocked(HubError):
    """A settings change would open a gate (code, shell, desktop control, dry-run off) that
    only the environment starting the runtime may open (hub.gates)."""

    code = "gate_locked"

    def __init__(self, message: str, *, settings: list[str], env_vars: list[str]) -> None:
        super().__init__(message, details={"settings": settings, "env_vars": env_vars})
        self.settings = settings
        self.env_vars = env_vars


class RuntimeUnavailable(HubError):
    """The Ray runtime cannot be reached or started."""

    code = "runtime_unavailable"


class StoreError(HubError):
    """The SQL store failed (unreachable, migration failure, constraint violation)."""

    code = "store_error"


class ExpressionError(HubError):
    """An expression is malformed, unsafe, or failed while evaluating."""

    code = "expression_error"
    category: ErrorCategory = ErrorCategory.EXPRESSION  # how a step that hits it fails

    def __init__(
        self, message: str, *, path: str | None = None, suggestion: str | None = None
    ) -> None:
        super().__init__(message, details={"path": path, "suggestion": suggestion})
        self.path = path
        self.suggestion = suggestion


class ExpressionLimitExceeded(ExpressionError):
    """An expression would build a value past a size limit (docs/dsl.md, "Expressions")."""

    category = ErrorCategory.VALIDATION


class ExpressionTimeout(ExpressionError):
    """An expression ran past the wall-clock budget of one render (docs/dsl.md)."""

    category = ErrorCategory.TIMEOUT


class StepFailed(HubError):
    """A node attempt failed. Nodes raise this (or let anything else escape, mapped to
    ``node_error``); the engine decides from ``category`` and ``retryable`` what happens next."""

    code = "step_failed"

    def __init__(
        self,
        message: str,
        *,
        category: ErrorCategory = ErrorCategory.NODE_ERROR,
        retryable: bool = False,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.category = ErrorCategory(category)
        self.retryable = retryable
        self.logs: list[Any] = []  # what the attempt logged before it failed (LogLine)

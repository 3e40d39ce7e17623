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


class NodeFamilyDisabled(HubError):
    """A dangerous node family (code, shell) is used while the settings keep it off."""

    code = "node_family_disabled"


class RuntimeUnavailable(HubError):
    """The Ray runtime cannot be reached or started."""

    code = "runtime_unavailable"


class StoreError(HubError):
    """The SQL store failed (unreachable, migration failure, constraint violation)."""

    code = "store_error"


class ExpressionError(HubError):
    """An expression is malformed, unsafe, or failed while evaluating."""

    code = "expression_error"

    def __init__(
        self, message: str, *, path: str | None = None, suggestion: str | None = None
    ) -> None:
        super().__init__(message, details={"path": path, "suggestion": suggestion})
        self.path = path
        self.suggestion = suggestion


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

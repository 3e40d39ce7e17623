"""Credentials in workflows: ``{{ $credential.name }}`` and ``{{ $credential.name.field }}``.

A credential is stored sealed with the runtime's key (``PUT /api/v1/credentials/{name}``): a
string, or a JSON object whose fields a workflow reads one by one. Only the runtime opens it:
the ExecutionActor resolves the credentials a step refers to just before that step's attempt
(so a rotated credential is used by the next step) and hands the values to the node; every
value resolved is redacted from what the run stores or shows (hub.redaction). A credential that
is not stored fails the run before its first step, naming it.

References must name the credential: ``$credential.api``, not ``$credential[$input.which]``
(a compile-time error), so the runtime knows before a step starts which ones it needs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from hub.errors import CredentialMissing, ErrorCategory, StepFailed
from hub.expressions import CompiledValue
from hub.records import ErrorInfo
from hub.redaction import Redactor
from hub.sealing import seal, unseal

ROOT = "credential"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"

CredentialSource = Callable[[Sequence[str]], Awaitable[dict[str, Any]]]
"""Opens stored credentials by name: ``{name: value}``; raises CredentialMissing for names
that are not stored."""


def names_in(references: Iterable[tuple[str, ...]]) -> frozenset[str]:
    """The credential names among expression references (``("credential", "api", ...)``)."""
    return frozenset(ref[1] for ref in references if len(ref) > 1 and ref[0] == ROOT)


def seal_credential(value: Any, key: str) -> bytes:
    return seal({"value": value}, key).encode()


def open_credential(ciphertext: bytes, key: str | None) -> Any:
    return unseal(ciphertext.decode(), key, "stored credentials")["value"]


def open_all(found: Mapping[str, bytes], key: str | None) -> dict[str, Any]:
    return {name: open_credential(ciphertext, key) for name, ciphertext in found.items()}


class RunCredentials:
    """The credentials of one run: which ones each node refers to, opened (again) before each
    attempt of a node that needs them, learned by the run's redactor the moment they open."""

    def __init__(
        self,
        source: CredentialSource | None,
        parameters: Mapping[str, CompiledValue],
        redact: Redactor,
    ) -> None:
        self.source = source
        self.redact = redact
        self.needs = {n: sorted(names_in(p.references)) for n, p in parameters.items()}
        self.opened: dict[str, Any] = {}  # what expressions see as $credential

    async def missing(self) -> ErrorInfo | None:
        """Why the run cannot start (a credential it refers to is not stored), or None."""
        names = sorted({name for needed in self.needs.values() for name in needed})
        try:
            await self.open(names)
        except CredentialMissing as exc:
            return ErrorInfo(message=exc.message, category="validation")
        return None

    async def open_for(self, node_id: str) -> None:
        """Open what ``node_id`` refers to now, so a rotated credential is used from here on;
        StepFailed (validation) names one that is no longer stored."""
        try:
            await self.open(self.needs.get(node_id, []))
        except CredentialMissing as exc:
            raise StepFailed(exc.message, category=ErrorCategory.VALIDATION) from None

    async def open(self, names: list[str]) -> None:
        if not names:
            return
        if self.source is None:
            raise CredentialMissing(names)
        values = await self.source(names)
        self.redact.add(*values.values())  # before anything of the step can be recorded
        self.opened.update(values)

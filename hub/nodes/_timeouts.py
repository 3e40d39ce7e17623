"""How long one attempt of a node may run: decided here, for every node type, and nowhere else.

Rules (docs/dsl.md, "Node timeouts"):
- A type whose parameters have a ``timeout_s`` field with a default always has that limit: the
  value given, else the default (``code`` 30 s, ``shell`` 60 s, ``http`` 30 s,
  ``desktop.wait_for_text`` 10 s). The node's own ``timeout_s`` can only shorten it: the
  attempt is bounded by the smaller of the two. Isolated types (``code``) cannot stop
  themselves, so the caller enforces the parameter exactly; the others enforce it themselves
  (with their own message) and the caller stops them ``SELF_ENFORCED_GRACE_S`` later.
- Any other type is bounded by the smaller of the node's ``timeout_s`` and a ``timeout_s``
  parameter, where given, else by the type's ``default_timeout_s`` (declared at registration;
  ``DEFAULT_TIMEOUT_S`` for plugins that declare none; None only for ``delay``, which its
  ``seconds`` bounds).

The caller of an attempt (the runner for inline types, the ExecutionActor's dispatch for the
others) enforces the result: for isolated types it is the only thing that can stop the attempt,
by replacing the process that runs it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from hub.nodes._registry import NodeType, parameter_timeout_default

SELF_ENFORCED_GRACE_S = 5.0
"""A node that enforces its own ``timeout_s`` parameter (``shell`` kills its program, ``http``
gives up the request, ``desktop.wait_for_text`` stops polling) gets this long after it to stop
itself and say why, before the caller stops the attempt."""


@functools.cache
def _timeout_field(parameters: type[BaseModel]) -> tuple[str, TypeAdapter[Any]] | None:
    """The key of a ``timeout_s`` parameter and a validator with its type and bounds."""
    field = parameters.model_fields.get("timeout_s")
    if field is None:
        return None
    annotation: Any = field.annotation
    if field.metadata:
        annotation = Annotated[(annotation, *field.metadata)]
    return field.alias or "timeout_s", TypeAdapter(annotation)


def given_timeout_s(node: NodeType, parameters: Mapping[str, Any]) -> float | None:
    """The ``timeout_s`` parameter as the node will read it, when given and valid.

    Validated as the node validates it (so ``"5"`` is 5 s); an invalid value is left to the
    node's own validation, which fails the attempt at once."""
    field = _timeout_field(node.parameters)
    if field is None:
        return None
    key, adapter = field
    raw = parameters.get(key)
    if raw is None:
        return None
    try:
        value = adapter.validate_python(raw)
    except ValidationError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def attempt_timeout_s(
    node: NodeType, node_timeout_s: float | None, parameters: Mapping[str, Any]
) -> float | None:
    """How long the caller lets one attempt of ``node`` run, in seconds; None: only the
    execution's limit.

    ``node_timeout_s`` is the workflow node's ``timeout_s``; ``parameters`` are the attempt's
    resolved parameters."""
    own = given_timeout_s(node, parameters)
    if own is None:
        own = parameter_timeout_default(node.parameters)
    if own is None:
        return node_timeout_s if node_timeout_s is not None else node.default_timeout_s
    if not node.isolated:
        # The node stops itself at ``own`` and says why; this is the backstop.
        own += SELF_ENFORCED_GRACE_S
    return own if node_timeout_s is None else min(node_timeout_s, own)

"""Expressions: the ``{{ ... }}`` mini-language inside workflow parameters (docs/dsl.md).

User text never reaches ``eval``/``exec``/``compile``: it is parsed with ``ast.parse``, checked
against a whitelist of node types, and compiled into a tree of plain Python closures.

- :func:`parse_expression` -- the text inside one ``{{ }}`` -> :class:`Expression`
- :func:`parse_template` -- one string value -> :class:`Template`
- :func:`compile_value` -- a whole JSON value -> :class:`CompiledValue`
- :func:`iter_templates` -- ``(json_pointer, string)`` for every string holding ``{{``
- :func:`format_value` -- how values are written into mixed text

Missing names, keys and indexes raise :class:`PathNotFound` (an ``ExpressionError``), which is
what ``default(x, fallback)`` catches.

Contracts (the limits live in ``_limits``):
- Nothing an expression builds exceeds the size limits, counted as the value will be written out
  (shared references count every time): refused *before* it is built, with
  :class:`ExpressionLimitExceeded` (category ``validation``).
- One render -- ``evaluate``, ``Template.render`` or ``CompiledValue.render`` -- runs within one
  wall-clock budget (``RENDER_BUDGET_S`` unless given): past it, :class:`ExpressionTimeout`
  (category ``timeout``); ``matches()`` is stopped at the same deadline.
"""

from hub.errors import ExpressionLimitExceeded, ExpressionTimeout
from hub.expressions._functions import FUNCTIONS, PathNotFound, format_value
from hub.expressions._limits import MAX_VALUE_SIZE, RENDER_BUDGET_S
from hub.expressions._parse import iter_templates
from hub.expressions._templates import (
    CompiledValue,
    Expression,
    Template,
    compile_value,
    parse_expression,
    parse_template,
)

FUNCTION_NAMES: frozenset[str] = frozenset(FUNCTIONS)

__all__ = [
    "FUNCTION_NAMES",
    "MAX_VALUE_SIZE",
    "RENDER_BUDGET_S",
    "CompiledValue",
    "Expression",
    "ExpressionLimitExceeded",
    "ExpressionTimeout",
    "PathNotFound",
    "Template",
    "compile_value",
    "format_value",
    "iter_templates",
    "parse_expression",
    "parse_template",
]

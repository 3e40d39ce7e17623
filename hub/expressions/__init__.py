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
"""

from hub.expressions._functions import FUNCTIONS, PathNotFound, format_value
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
    "CompiledValue",
    "Expression",
    "PathNotFound",
    "Template",
    "compile_value",
    "format_value",
    "iter_templates",
    "parse_expression",
    "parse_template",
]

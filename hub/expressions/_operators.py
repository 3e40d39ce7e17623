"""Reading values and applying operators for compiled expressions: every path lookup, operator
and comparison checks its operands' types and the resource limits, and fails with an
ExpressionError that says what and where."""

from __future__ import annotations

import ast
import json
import operator
from collections.abc import Callable, Mapping
from typing import Any

from hub.errors import ExpressionError
from hub.expressions._functions import (
    PathNotFound,
    a_type,
    closest,
    is_number,
    type_name,
)
from hub.expressions._limits import (
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_LIST_LENGTH,
    MAX_STRING_LENGTH,
    MAX_VALUE_SIZE,
    current_budget,
    resource_error,
)

Scope = Mapping[str, Any]


# --- values -------------------------------------------------------------------------------------


def _fresh(value: Any) -> Any:
    """A deep copy of the JSON containers in ``value`` (scalars are immutable and shared)."""
    kind = type(value)
    if kind is dict:
        return {k: _fresh(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_fresh(v) for v in value]
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, Mapping):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_fresh(v) for v in value]
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    try:
        text = json.dumps(key, ensure_ascii=False)
    except (TypeError, ValueError):
        text = type_name(key)
    return text if len(text) <= 60 else text[:57] + "..."


def _missing_key(obj: Mapping[Any, Any], key: Any, path: str) -> PathNotFound:
    suggestion = None
    if isinstance(key, str):
        suggestion = closest(key, [k for k in obj if isinstance(k, str)])
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    return PathNotFound(f"{path} not found{hint}", path=path, suggestion=suggestion)


def _missing_root(name: str, scope: Scope) -> PathNotFound:
    path = "$" + name
    suggestion = closest(path, ["$" + k for k in scope if isinstance(k, str)])
    hint = f"; did you mean {suggestion!r}?" if suggestion else ""
    return PathNotFound(f"{path} not found{hint}", path=path, suggestion=suggestion)


def _read(obj: Any, key: Any, desc: str, path: str) -> Any:
    """``obj[key]`` with the errors users should see."""
    if isinstance(obj, Mapping):
        try:
            return obj[key]
        except KeyError:
            raise _missing_key(obj, key, path) from None
        except TypeError:
            raise ExpressionError(f"{a_type(key)} cannot be an object key ({path})") from None
    if obj is None:
        raise PathNotFound(f"{path} not found ({desc} is null)", path=path)
    if isinstance(obj, list | tuple | str):
        if isinstance(key, str):
            raise ExpressionError(
                f"cannot read {key!r} of {a_type(obj)} ({desc} is {a_type(obj)})", path=path
            )
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExpressionError(
                f"{type_name(obj)} index must be an integer, got {a_type(key)} ({path})", path=path
            )
        try:
            return obj[key]
        except IndexError:
            size = len(obj)
            unit = "item" if isinstance(obj, list | tuple) else "character"
            plural = "" if size == 1 else "s"
            raise PathNotFound(
                f"{path} not found ({type_name(obj)} has {size} {unit}{plural})", path=path
            ) from None
    shown = repr(key) if isinstance(key, str) else f"[{_key_text(key)}]"
    raise ExpressionError(
        f"cannot read {shown} of {a_type(obj)} ({desc} is {a_type(obj)})", path=path
    )


# --- operators ----------------------------------------------------------------------------------

_NUMERIC = (int, float)


def _type_error(symbol: str, a: Any, b: Any, where: str) -> ExpressionError:
    return ExpressionError(f"cannot apply {symbol!r} to {a_type(a)} and {a_type(b)} in {where}")


def _numbers_only(symbol: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any, str], Any]:
    def apply(a: Any, b: Any, where: str) -> Any:
        if not (is_number(a) and is_number(b)):
            raise _type_error(symbol, a, b, where)
        try:
            return fn(a, b)
        except ZeroDivisionError:
            raise ExpressionError(f"division by zero in {where}") from None
        except OverflowError:
            raise resource_error(f"number too large in {where}") from None

    return apply


def _add(a: Any, b: Any, where: str) -> Any:
    if type(a) in _NUMERIC and type(b) in _NUMERIC:
        return a + b
    if isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_STRING_LENGTH:
            raise resource_error(f"string longer than {MAX_STRING_LENGTH} characters in {where}")
        return a + b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) + len(b) > MAX_LIST_LENGTH:
            raise resource_error(f"list longer than {MAX_LIST_LENGTH} items in {where}")
        budget = current_budget()
        joint = 1 if a and b else 2  # one bracket pair goes, and a comma comes if both have items
        check_value_size(budget.size_of(a) + budget.size_of(b) - joint, where)
        return [*a, *b]
    if is_number(a) and is_number(b):
        return a + b
    raise _type_error("+", a, b, where)


def check_value_size(size: int, where: str) -> None:
    """Refuse to build a value of ``size`` (see ``Budget.size_of``)."""
    if size > MAX_VALUE_SIZE:
        raise resource_error(
            f"value larger than {MAX_VALUE_SIZE:,} characters as JSON in {where}"
            " (nested and repeated parts count every time they occur)"
        )


def _repeat(seq: Any, times: int, where: str) -> Any:
    length = len(seq) * max(times, 0)
    if isinstance(seq, str):
        if length > MAX_STRING_LENGTH:
            raise resource_error(f"string longer than {MAX_STRING_LENGTH} characters in {where}")
        return seq * times
    if length > MAX_LIST_LENGTH:
        raise resource_error(f"list longer than {MAX_LIST_LENGTH} items in {where}")
    if length:
        # Every copy shares the items, but rendering or serialising writes each one out.
        check_value_size(times * (current_budget().size_of(seq) - 1) + 1, where)
    return list(seq) * times


def _mul(a: Any, b: Any, where: str) -> Any:
    if is_number(a) and is_number(b):
        both_int = isinstance(a, int) and isinstance(b, int)
        if both_int and a.bit_length() + b.bit_length() > MAX_INT_BITS:
            raise resource_error(f"integer larger than {MAX_INT_BITS} bits in {where}")
        try:
            return a * b
        except OverflowError:
            raise resource_error(f"number too large in {where}") from None
    if isinstance(a, str | list | tuple) and isinstance(b, int):
        return _repeat(a, b, where)
    if isinstance(b, str | list | tuple) and isinstance(a, int):
        return _repeat(b, a, where)
    raise _type_error("*", a, b, where)


def _pow(a: Any, b: Any, where: str) -> Any:
    if not (is_number(a) and is_number(b)):
        raise _type_error("**", a, b, where)
    if abs(b) > MAX_EXPONENT:
        raise resource_error(f"exponent larger than {MAX_EXPONENT} in {where}")
    if isinstance(a, int) and isinstance(b, int) and b > 0 and a.bit_length() * b > MAX_INT_BITS:
        raise resource_error(f"integer larger than {MAX_INT_BITS} bits in {where}")
    try:
        result = a**b
    except ZeroDivisionError:
        raise ExpressionError(f"division by zero in {where}") from None
    except OverflowError:
        raise resource_error(f"number too large in {where}") from None
    if isinstance(result, complex):
        raise ExpressionError(f"{where} has no real-number result")
    return result


_BINARY: dict[type[ast.operator], tuple[str, Callable[[Any, Any, str], Any]]] = {
    ast.Add: ("+", _add),
    ast.Sub: ("-", _numbers_only("-", operator.sub)),
    ast.Mult: ("*", _mul),
    ast.Div: ("/", _numbers_only("/", operator.truediv)),
    ast.FloorDiv: ("//", _numbers_only("//", operator.floordiv)),
    ast.Mod: ("%", _numbers_only("%", operator.mod)),
    ast.Pow: ("**", _pow),
}


def _contains(item: Any, container: Any, symbol: str, where: str) -> bool:
    if isinstance(container, str):
        if not isinstance(item, str):
            raise _type_error(symbol, item, container, where)
        return item in container
    if isinstance(container, list | tuple | Mapping):
        try:
            return item in container
        except TypeError:
            return False
    raise _type_error(symbol, item, container, where)


def _in(a: Any, b: Any, where: str) -> bool:
    return _contains(a, b, "in", where)


def _not_in(a: Any, b: Any, where: str) -> bool:
    return not _contains(a, b, "not in", where)


def _ordering(symbol: str, fn: Callable[[Any, Any], Any]) -> Callable[[Any, Any, str], Any]:
    def apply(a: Any, b: Any, where: str) -> Any:
        try:
            return fn(a, b)
        except TypeError:
            raise ExpressionError(
                f"cannot compare {a_type(a)} and {a_type(b)} with {symbol!r} in {where}"
            ) from None

    return apply


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any, str], Any]] = {
    ast.Eq: _ordering("==", operator.eq),
    ast.NotEq: _ordering("!=", operator.ne),
    ast.Lt: _ordering("<", operator.lt),
    ast.LtE: _ordering("<=", operator.le),
    ast.Gt: _ordering(">", operator.gt),
    ast.GtE: _ordering(">=", operator.ge),
    ast.In: _in,
    ast.NotIn: _not_in,
}


def _unary(symbol: str, fn: Callable[[Any], Any]) -> Callable[[Any, str], Any]:
    def apply(value: Any, where: str) -> Any:
        if not is_number(value):
            raise ExpressionError(f"cannot apply {symbol!r} to {a_type(value)} in {where}")
        return fn(value)

    return apply

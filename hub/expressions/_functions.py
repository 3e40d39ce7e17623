"""Value helpers and the fixed set of functions an expression may call.

Nothing here ever hands user text to the interpreter: every function works on plain JSON-like
values and checks the resource limits (``_limits``) before it builds anything large.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import regex

from hub.errors import ExpressionError
from hub.expressions._limits import (
    MAX_EXPONENT,
    MAX_LIST_LENGTH,
    MAX_MATCH_TEXT_LENGTH,
    MAX_PATTERN_LENGTH,
    MAX_STRING_LENGTH,
    check_int,
    check_list,
    check_string,
    current_budget,
    resource_error,
)


class PathNotFound(ExpressionError):
    """A ``$name``, key or index that does not exist (``default()`` catches exactly these)."""


def closest(word: str, candidates: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return found[0] if found else None


# --- describing values (types only: values may be secrets) -------------------------------------


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def a_type(value: Any) -> str:
    """``type_name`` with an article: 'a list', 'an object', 'null'."""
    name = type_name(value)
    if name == "null":
        return name
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def format_value(value: Any) -> str:
    """How a value is written into a string: strings as-is, anything else as JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float)


# --- the functions ------------------------------------------------------------------------------

Impl = Callable[[Sequence[Any]], Any]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    min_args: int
    max_args: int | None  # None: any number
    impl: Impl
    usage: str


def _need_str(fn: str, value: Any, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{fn}() needs {what}, got {a_type(value)}")
    return value


def _need_number(fn: str, value: Any) -> int | float:
    if not is_number(value):
        raise ExpressionError(f"{fn}() needs a number, got {a_type(value)}")
    result: int | float = value
    return result


def _len(args: Sequence[Any]) -> Any:
    (value,) = args
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise ExpressionError(f"len() needs a string, list or object, got {a_type(value)}")


def _convert(fn: str, kind: Callable[[Any], Any], value: Any) -> Any:
    if value is None or isinstance(value, list | tuple | Mapping):
        raise ExpressionError(f"{fn}() cannot convert {a_type(value)}")
    if isinstance(value, str) and len(value) > 5000:
        raise resource_error(f"{fn}() of a string longer than 5000 characters")
    try:
        return kind(value)
    except (ValueError, OverflowError) as exc:
        raise ExpressionError(f"{fn}() cannot convert this {type_name(value)}: {exc}") from None


def _int(args: Sequence[Any]) -> Any:
    result: int = _convert("int", int, args[0])
    return check_int(result)


def _float(args: Sequence[Any]) -> Any:
    return _convert("float", float, args[0])


def formatted(value: Any, what: str = "text") -> str:
    """``format_value`` that refuses, before formatting, a value whose text would be too long."""
    if not isinstance(value, str) and current_budget().size_of(value) > MAX_STRING_LENGTH:
        raise resource_error(f"{what} longer than {MAX_STRING_LENGTH} characters")
    return check_string(format_value(value))


def _str(args: Sequence[Any]) -> Any:
    return formatted(args[0], "str() of a value whose text is")


def _bool(args: Sequence[Any]) -> Any:
    return bool(args[0])


def _round(args: Sequence[Any]) -> Any:
    value = _need_number("round", args[0])
    try:
        if len(args) == 1 or args[1] is None:
            return round(value)
        digits = args[1]
        if not isinstance(digits, int) or isinstance(digits, bool):
            raise ExpressionError(
                f"round() needs an integer number of digits, got {a_type(digits)}"
            )
        if abs(digits) > MAX_EXPONENT:
            raise resource_error(f"round() to more than {MAX_EXPONENT} digits")
        return round(value, digits)
    except (ValueError, OverflowError) as exc:
        raise ExpressionError(f"round() failed: {exc}") from None


def _abs(args: Sequence[Any]) -> Any:
    return abs(_need_number("abs", args[0]))


def _min_max(fn: str, pick: Callable[[Sequence[Any]], Any]) -> Impl:
    def impl(args: Sequence[Any]) -> Any:
        values: Sequence[Any] = args
        if len(args) == 1:
            if not isinstance(args[0], list | tuple):
                raise ExpressionError(
                    f"{fn}() needs a list or several values, got {a_type(args[0])}"
                )
            values = args[0]
        if not values:
            raise ExpressionError(f"{fn}() of an empty list")
        try:
            return pick(values)
        except TypeError:
            kinds = sorted({type_name(v) for v in values})
            raise ExpressionError(f"{fn}() cannot compare {' and '.join(kinds)} values") from None

    return impl


def _sum(args: Sequence[Any]) -> Any:
    values = args[0]
    if not isinstance(values, list | tuple):
        raise ExpressionError(f"sum() needs a list of numbers, got {a_type(values)}")
    total: int | float = 0
    for item in values:
        if not is_number(item):
            raise ExpressionError(f"sum() needs a list of numbers, found {a_type(item)} in it")
        total += item
        if isinstance(total, int):
            check_int(total)
    return total


def _sorted(args: Sequence[Any]) -> Any:
    values = args[0]
    if not isinstance(values, list | tuple):
        raise ExpressionError(f"sorted() needs a list, got {a_type(values)}")
    try:
        return sorted(values)
    except TypeError:
        kinds = sorted({type_name(v) for v in values})
        raise ExpressionError(f"sorted() cannot order {' and '.join(kinds)} values") from None


def _string_method(fn: str, method: Callable[[str], str]) -> Impl:
    def impl(args: Sequence[Any]) -> Any:
        text = _need_str(fn, args[0])
        if fn != "strip":  # changing case never shortens a text: refuse before copying it
            check_string(text)
        return check_string(method(text))

    return impl


def _split(args: Sequence[Any]) -> Any:
    text = _need_str("split", args[0])
    sep = args[1] if len(args) > 1 else None
    if sep is not None:
        sep = _need_str("split", sep, "a string separator")
        if not sep:
            raise ExpressionError("split() separator must not be empty")
    # At most one part more than allowed is built: that one proves the limit is passed.
    return check_list(text.split(sep, MAX_LIST_LENGTH))


def _join(args: Sequence[Any]) -> Any:
    items, sep = args
    if isinstance(items, str) and isinstance(sep, list | tuple):
        raise ExpressionError("join() takes the list first: join(items, separator)")
    if not isinstance(items, list | tuple):
        raise ExpressionError(f"join() needs a list, got {a_type(items)}")
    sep = _need_str("join", sep, "a string separator")
    budget = current_budget()
    total = len(sep) * max(len(items) - 1, 0)
    for item in items:  # measured before anything is formatted
        total += budget.size_of(item)
        if total > MAX_STRING_LENGTH:
            raise resource_error(f"join() result longer than {MAX_STRING_LENGTH} characters")
    parts = [format_value(item) for item in items]
    return check_string(sep.join(parts))


def _contains(args: Sequence[Any]) -> Any:
    container, item = args
    if isinstance(container, str):
        return _need_str("contains", item, "a string to look for in a string") in container
    if isinstance(container, list | tuple):
        return item in container
    if isinstance(container, Mapping):
        try:
            return item in container
        except TypeError:
            return False
    raise ExpressionError(f"contains() needs a string, list or object, got {a_type(container)}")


def _affix(fn: str, test: Callable[[str, str], bool]) -> Impl:
    def impl(args: Sequence[Any]) -> Any:
        return test(_need_str(fn, args[0]), _need_str(fn, args[1], "a string to compare with"))

    return impl


def _pattern_text(pattern: str) -> str:
    return repr(pattern) if len(pattern) <= 60 else repr(pattern[:57]) + "..."


def _matches(args: Sequence[Any]) -> Any:
    text = _need_str("matches", args[0])
    pattern = _need_str("matches", args[1], "a string pattern")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise resource_error(f"matches() pattern longer than {MAX_PATTERN_LENGTH} characters")
    if len(text) > MAX_MATCH_TEXT_LENGTH:
        raise resource_error(f"matches() text longer than {MAX_MATCH_TEXT_LENGTH} characters")
    try:
        compiled = regex.compile(pattern)
    except (regex.error, ValueError, OverflowError) as exc:
        raise ExpressionError(
            f"matches(): invalid regular expression {_pattern_text(pattern)}: {exc}"
        ) from None
    # The `regex` engine backtracks like `re`, but stops at a deadline: a pattern such as
    # (a+)+$ fails this render instead of holding the thread for hours.
    budget = current_budget()
    remaining = budget.remaining_s()
    if remaining <= 0:
        raise budget.timeout("matches()")
    try:
        return compiled.search(text, timeout=remaining) is not None
    except TimeoutError:
        raise budget.timeout(
            f"matches(..., {_pattern_text(pattern)})", "matching the regular expression"
        ) from None


_NUMBER = re.compile(r"(?:(?<![0-9.])-)?[0-9]+(\.[0-9]+)?")


def _numbers(args: Sequence[Any]) -> Any:
    text = args[0]
    if is_number(text) and not isinstance(text, bool):
        text = format_value(text)
    text = _need_str("numbers", text)
    budget = current_budget()
    found: list[Any] = []
    for match in _NUMBER.finditer(text):
        literal = match.group()
        if len(literal) > 1000:
            raise resource_error("numbers() found a number longer than 1000 digits")
        found.append(float(literal) if match.group(1) else int(literal))
        if len(found) > MAX_LIST_LENGTH:
            raise resource_error(f"numbers() found more than {MAX_LIST_LENGTH} numbers")
        if len(found) % 4096 == 0:
            budget.check("numbers()")
    return found


def _json(args: Sequence[Any]) -> Any:
    if current_budget().size_of(args[0]) > MAX_STRING_LENGTH:
        raise resource_error(f"json() text longer than {MAX_STRING_LENGTH} characters")
    try:
        text = json.dumps(args[0], ensure_ascii=False, separators=(",", ":"), default=_json_default)
    except (ValueError, TypeError, RecursionError) as exc:
        raise ExpressionError(f"json() cannot encode this value: {exc}") from None
    return check_string(text)


def _now(args: Sequence[Any]) -> Any:
    return datetime.now(UTC).isoformat()


def _default(args: Sequence[Any]) -> Any:
    # The evaluator inlines default() to evaluate its first argument lazily; this is the same rule.
    return args[1] if args[0] is None else args[0]


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec("len", 1, 1, _len, "len(x)"),
        FunctionSpec("int", 1, 1, _int, "int(x)"),
        FunctionSpec("float", 1, 1, _float, "float(x)"),
        FunctionSpec("str", 1, 1, _str, "str(x)"),
        FunctionSpec("bool", 1, 1, _bool, "bool(x)"),
        FunctionSpec("round", 1, 2, _round, "round(x, digits=0)"),
        FunctionSpec("abs", 1, 1, _abs, "abs(x)"),
        FunctionSpec("min", 1, None, _min_max("min", min), "min(list) or min(a, b, ...)"),
        FunctionSpec("max", 1, None, _min_max("max", max), "max(list) or max(a, b, ...)"),
        FunctionSpec("sum", 1, 1, _sum, "sum(list)"),
        FunctionSpec("sorted", 1, 1, _sorted, "sorted(list)"),
        FunctionSpec("lower", 1, 1, _string_method("lower", str.lower), "lower(text)"),
        FunctionSpec("upper", 1, 1, _string_method("upper", str.upper), "upper(text)"),
        FunctionSpec("strip", 1, 1, _string_method("strip", str.strip), "strip(text)"),
        FunctionSpec("split", 1, 2, _split, "split(text, separator=None)"),
        FunctionSpec("join", 2, 2, _join, "join(items, separator)"),
        FunctionSpec("contains", 2, 2, _contains, "contains(container, item)"),
        FunctionSpec("startswith", 2, 2, _affix("startswith", str.startswith), "startswith(s, p)"),
        FunctionSpec("endswith", 2, 2, _affix("endswith", str.endswith), "endswith(s, p)"),
        FunctionSpec("matches", 2, 2, _matches, "matches(text, regex)"),
        FunctionSpec("numbers", 1, 1, _numbers, "numbers(text)"),
        FunctionSpec("json", 1, 1, _json, "json(x)"),
        FunctionSpec("now", 0, 0, _now, "now()"),
        FunctionSpec("default", 2, 2, _default, "default(x, fallback)"),
    )
}

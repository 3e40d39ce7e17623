"""The resource limits of one evaluation: sizes checked before anything large is built, and a
wall-clock budget checked as the evaluator walks.

Contracts:
- Every value an expression builds (a list or object literal, ``+``, ``*``, ``join``, ``str``,
  ``json``, text with ``{{ }}`` in it) is measured *before* it is built, counting shared
  references as many times as they will be copied when the value is rendered or serialised.
  The measure, :func:`Budget.size_of`, is a lower bound on the length of the value's compact
  JSON text, so a refused value would really have been that big.
- One render (``Expression.evaluate``, ``Template.render``, ``CompiledValue.render``) has one
  :class:`Budget`; nested calls share the outermost one. The evaluator calls
  :meth:`Budget.check` at every operator, call and literal, and long loops call it as they go, so
  no evaluation holds its thread (an actor's event loop) much longer than the budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

from hub.errors import ExpressionLimitExceeded, ExpressionTimeout

MAX_SOURCE_LENGTH = 10_000
MAX_DEPTH = 50
MAX_NODES = 1000
MAX_STRING_LENGTH = 100_000
MAX_LIST_LENGTH = 100_000
MAX_VALUE_SIZE = 1_000_000  # a built value, as characters of compact JSON (at least)
MAX_INT_BITS = 4096
MAX_EXPONENT = 1000
MAX_PATTERN_LENGTH = 1000
MAX_MATCH_TEXT_LENGTH = 100_000
RENDER_BUDGET_S = 1.0  # wall-clock seconds for one render (docs/dsl.md, "Expressions")

_CHECK_EVERY = 4096  # items walked between two deadline checks
_MAX_REMEMBERED_ITEMS = 4 * MAX_LIST_LENGTH  # bounds what the size cache keeps alive


def resource_error(what: str) -> ExpressionLimitExceeded:
    return ExpressionLimitExceeded(f"resource limit exceeded: {what}")


def check_string(value: str) -> str:
    if len(value) > MAX_STRING_LENGTH:
        raise resource_error(f"string longer than {MAX_STRING_LENGTH} characters")
    return value


def check_list(value: list[Any]) -> list[Any]:
    if len(value) > MAX_LIST_LENGTH:
        raise resource_error(f"list longer than {MAX_LIST_LENGTH} items")
    return value


def check_int(value: int) -> int:
    if value.bit_length() > MAX_INT_BITS:
        raise resource_error(f"integer larger than {MAX_INT_BITS} bits")
    return value


# Scalars whose JSON text has a fixed least length ("true", "null", "0.0"); ints below 10**9 in
# absolute value count one digit. Looked up by exact type: the walk must be fast.
_FIXED: dict[type, int] = {bool: 4, type(None): 4, float: 3}
_SMALL_INT = 10**9


def _scalar_size(value: Any) -> int:
    """The size of a non-container (strings without their quotes: a lower bound either way)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 4
    if isinstance(value, int):
        bits = value.bit_length()
        # 2**(bits-1) <= |value|, so it has at least this many decimal digits.
        digits = (bits - 1) * 30103 // 100_000 + 1 if bits else 1
        return digits + (value < 0)
    if isinstance(value, float):
        return 3
    return 1


def _is_container(value: Any) -> bool:
    kind = type(value)
    if kind is list or kind is dict or kind is tuple:
        return True
    if kind is str or kind is int or kind in _FIXED:
        return False
    return isinstance(value, list | tuple | Mapping | set | frozenset)


class Budget:
    """The wall-clock deadline and the size cache of one render."""

    __slots__ = ("_items", "_sizes", "_unchecked", "budget_s", "deadline")

    def __init__(self, budget_s: float = RENDER_BUDGET_S) -> None:
        if not budget_s > 0:
            raise ValueError(f"an expression budget must be positive seconds, got {budget_s!r}")
        self.budget_s = budget_s
        self.deadline = time.monotonic() + budget_s
        # id -> (the container, its size). The container is kept so that its id cannot be
        # reused by another object while the render lasts.
        self._sizes: dict[int, tuple[Any, int]] = {}
        self._items = 0
        self._unchecked = 0

    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def check(self, where: str = "") -> None:
        """Raise :class:`ExpressionTimeout` once the deadline has passed."""
        if time.monotonic() > self.deadline:
            raise self.timeout(where)

    def timeout(self, where: str = "", doing: str = "evaluating") -> ExpressionTimeout:
        at = f" (at {_shorten(where)})" if where else ""
        return ExpressionTimeout(
            f"time limit exceeded: {doing} took longer than the {self.budget_s:g} s"
            f" allowed for one render{at}; simplify the expression or move the work into a"
            " code node"
        )

    def size_of(self, value: Any) -> int:
        """At least the length of ``value``'s compact JSON text, counting every shared reference
        as often as it occurs; the walk stops once the size passes ``MAX_VALUE_SIZE``."""
        if not _is_container(value):
            return _scalar_size(value)
        return self._measure(value, {})

    def _measure(self, value: Any, local: dict[int, tuple[Any, int]]) -> int:
        if not _is_container(value):
            return _scalar_size(value)
        key = id(value)
        known = self._sizes.get(key) or local.get(key)
        if known is not None:
            return known[1]
        count = len(value)
        total = 2 + max(count - 1, 0)  # brackets and commas
        if isinstance(value, Mapping):
            total += count  # the colons
            for k, v in value.items():
                total += _scalar_size(k) + self._measure(v, local)
                if total > MAX_VALUE_SIZE:
                    break
        else:
            total += self._items_size(value, local)
            if total > MAX_VALUE_SIZE:
                total = MAX_VALUE_SIZE + 1  # past the limit is all a caller needs to know
        self._walked(count)
        if not self.remember(value, total):
            local[key] = (value, total)
        return total

    def remember(self, container: Any, size: int) -> bool:
        """Cache the size of a container just built or measured (False once the cache is full:
        it keeps what it caches alive, so its reach is bounded)."""
        count = len(container)
        if self._items + count > _MAX_REMEMBERED_ITEMS:
            return False
        self._items += count
        self._sizes[id(container)] = (container, size)
        return True

    def items_size(self, items: Iterable[Any]) -> int:
        """The sum of :meth:`size_of` over ``items``."""
        return self._items_size(items, {})

    def _items_size(self, items: Iterable[Any], local: dict[int, tuple[Any, int]]) -> int:
        # One pass at C speed for the common items (strings, small numbers); a function call
        # only for containers and large integers.
        fixed = _FIXED
        small = _SMALL_INT
        measure = self._measure
        return sum(
            [
                len(x)
                if type(x) is str
                else fixed.get(type(x))
                or (1 if type(x) is int and -small < x < small else measure(x, local))
                for x in items
            ]
        )

    def _walked(self, count: int) -> None:
        self._unchecked += count
        if self._unchecked >= _CHECK_EVERY:
            self._unchecked = 0
            self.check("measuring a value")


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


_ACTIVE: ContextVar[Budget | None] = ContextVar("hub_expression_budget", default=None)


def current_budget() -> Budget:
    """The budget of the render in progress (a fresh default one outside any render)."""
    active = _ACTIVE.get()
    return active if active is not None else Budget()


def tick(where: str) -> None:
    """Check the deadline of the render in progress (the evaluator calls this at every step)."""
    budget = _ACTIVE.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise budget.timeout(where)


class render_budget:  # lower case: it reads as a function, `with render_budget(s):`
    """Start a render's budget, or join the one already running (the outermost render decides)."""

    __slots__ = ("_budget_s", "_token")

    def __init__(self, budget_s: float | None = None) -> None:
        self._budget_s = budget_s
        self._token: Token[Budget | None] | None = None

    def __enter__(self) -> Budget:
        active = _ACTIVE.get()
        if active is not None:
            return active
        budget = Budget(RENDER_BUDGET_S if self._budget_s is None else self._budget_s)
        self._token = _ACTIVE.set(budget)
        return budget

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None

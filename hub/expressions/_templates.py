"""The public expression types: one expression, one string template, a whole JSON value."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from hub.errors import ExpressionError
from hub.expressions._evaluate import (
    Evaluator,
    Scope,
    _Compiler,
)
from hub.expressions._functions import formatted
from hub.expressions._limits import (
    MAX_STRING_LENGTH,
    check_string,
    render_budget,
    resource_error,
)
from hub.expressions._operators import _fresh
from hub.expressions._parse import escape_pointer, parse_source, split_template

# --- public types -------------------------------------------------------------------------------


class Expression:
    """One compiled expression: the text inside ``{{ }}``."""

    __slots__ = ("_evaluate", "references", "source")

    source: str
    references: frozenset[tuple[str, ...]]

    def __init__(
        self, source: str, evaluate: Evaluator, references: frozenset[tuple[str, ...]]
    ) -> None:
        self.source = source
        self.references = references
        self._evaluate = evaluate

    def evaluate(self, scope: Scope, *, budget_s: float | None = None) -> Any:
        """The value for ``scope`` (keys are names without ``$``: "input", "fetch_user", ...).

        ``budget_s`` bounds the wall-clock time (default ``RENDER_BUDGET_S``); inside a render
        already in progress, that render's budget applies."""
        with render_budget(budget_s):
            return self._run(scope)

    def _run(self, scope: Scope) -> Any:
        try:
            return self._evaluate(scope)
        except ExpressionError:
            raise
        except (RecursionError, MemoryError):
            raise resource_error(f"evaluating {self.source.strip()!r}") from None
        except Exception as exc:
            raise ExpressionError(
                f"evaluating {self.source.strip()!r} failed: {type(exc).__name__}: {exc}"
            ) from None

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and other.source == self.source

    def __hash__(self) -> int:
        return hash((Expression, self.source))

    def __reduce__(self) -> tuple[Any, ...]:
        return (parse_expression, (self.source,))


def parse_expression(source: str) -> Expression:
    """Parse and compile the text of one expression; raises :class:`ExpressionError`."""
    if not isinstance(source, str):
        raise ExpressionError(f"an expression must be a string, got {type(source).__name__}")
    return _parse_cached(source)


@lru_cache(maxsize=4096)
def _parse_cached(source: str) -> Expression:
    # Compiled expressions are immutable, so the same text can share one.
    tree, src = parse_source(source)
    compiler = _Compiler(src)
    evaluate = compiler.compile(tree.body)
    found: set[tuple[str, ...]] = set()
    compiler.references(tree.body, found)
    return Expression(source, evaluate, frozenset(found))


class Template:
    """One JSON string value that may contain ``{{ }}`` expressions."""

    __slots__ = ("_parts", "_single", "expressions", "is_static", "references", "source")

    source: str
    expressions: tuple[Expression, ...]
    is_static: bool
    references: frozenset[tuple[str, ...]]

    def __init__(self, source: str, parts: Sequence[str | Expression]) -> None:
        self.source = source
        self._parts = tuple(parts)
        self.expressions = tuple(p for p in self._parts if isinstance(p, Expression))
        self.is_static = not self.expressions
        self.references = frozenset(r for e in self.expressions for r in e.references)
        literals = [p for p in self._parts if isinstance(p, str)]
        alone = len(self.expressions) == 1 and all(not p.strip() for p in literals)
        self._single = self.expressions[0] if alone else None

    def render(self, scope: Scope, *, budget_s: float | None = None) -> Any:
        """The value itself for a lone ``{{ }}``; otherwise the text with each value formatted.

        ``budget_s`` bounds the wall-clock time, as for :meth:`Expression.evaluate`."""
        if self.is_static:
            return self.source
        with render_budget(budget_s):
            if self._single is not None:
                return _fresh(self._single._run(scope))
            out: list[str] = []
            total = 0
            for part in self._parts:
                text = part if isinstance(part, str) else formatted(part._run(scope))
                total += len(text)
                if total > MAX_STRING_LENGTH:
                    raise resource_error(f"text longer than {MAX_STRING_LENGTH} characters")
                out.append(text)
            return check_string("".join(out))

    @property
    def single(self) -> bool:
        """True when the template is one ``{{ }}`` alone (its value keeps its type)."""
        return self._single is not None

    def __repr__(self) -> str:
        return f"Template({self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and other.source == self.source

    def __hash__(self) -> int:
        return hash((Template, self.source))

    def __reduce__(self) -> tuple[Any, ...]:
        return (parse_template, (self.source,))


def parse_template(text: str) -> Template:
    """Parse one string value; an unclosed ``{{`` is an error, ``}}`` alone is literal text."""
    if not isinstance(text, str):
        raise ExpressionError(f"a template must be a string, got {type(text).__name__}")
    parts: list[str | Expression] = []
    for is_expression, part in split_template(text):
        parts.append(parse_expression(part) if is_expression else part)
    return Template(text, parts)


Renderer = Callable[[Scope], Any]


class CompiledValue:
    """A whole JSON value with every string parsed as a :class:`Template`.

    ``deferred`` parts (JSON pointers) are not rendered with the rest: :meth:`render` gives them
    as written, and :attr:`deferred` holds each one compiled, for whoever renders it later with
    roots of its own (a foreach renders its item node's parameters once per item, with $item).
    ``references`` covers them too."""

    __slots__ = ("_pointers", "_render", "_value", "deferred", "is_static", "references")

    is_static: bool
    references: frozenset[tuple[str, ...]]
    deferred: dict[str, CompiledValue]

    def __init__(
        self,
        value: Any,
        render: Renderer,
        is_static: bool,
        references: frozenset[tuple[str, ...]],
        deferred: dict[str, CompiledValue] | None = None,
        pointers: tuple[str, ...] = (),
    ) -> None:
        self._value = value
        self._render = render
        self.is_static = is_static
        self.references = references
        self.deferred = deferred or {}
        self._pointers = pointers

    def render(self, scope: Scope, *, budget_s: float | None = None) -> Any:
        """A resolved deep copy of the value: fresh dicts and lists on every call.

        All its templates share one wall-clock budget, ``budget_s`` (default
        ``RENDER_BUDGET_S``); past it, :class:`~hub.errors.ExpressionTimeout` is raised."""
        if self.is_static:
            return self._render(scope)
        with render_budget(budget_s):
            return self._render(scope)

    def __repr__(self) -> str:
        return f"CompiledValue({self._value!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (compile_value, (self._value, self._pointers))


def compile_value(value: Any, deferred: tuple[str, ...] = ()) -> CompiledValue:
    """Compile every string in ``value``; errors carry ``.path``, the string's JSON pointer.
    The parts at the ``deferred`` pointers are compiled on their own (CompiledValue.deferred)."""
    found: set[tuple[str, ...]] = set()
    later: dict[str, CompiledValue] = {}
    render, static = _compile(value, "", found, (frozenset(deferred), later))
    return CompiledValue(_fresh(value), render, static, frozenset(found), later, tuple(deferred))


Deferral = tuple[frozenset[str], dict[str, CompiledValue]]


def _compile(
    value: Any, pointer: str, found: set[tuple[str, ...]], deferral: Deferral
) -> tuple[Renderer, bool]:
    pointers, later = deferral
    if pointer in pointers:
        try:
            part = compile_value(value)
        except ExpressionError as exc:
            raise ExpressionError(
                exc.message, path=pointer + (exc.path or ""), suggestion=exc.suggestion
            ) from None
        later[pointer] = part
        found.update(part.references)
        return _static(value), True
    if isinstance(value, str):
        if "{{" not in value:
            return (lambda scope: value), True
        try:
            template = parse_template(value)
        except ExpressionError as exc:
            raise ExpressionError(exc.message, path=pointer, suggestion=exc.suggestion) from None
        found.update(template.references)
        return template.render, template.is_static
    if isinstance(value, Mapping):
        entries = [
            (key, *_compile(item, f"{pointer}/{escape_pointer(str(key))}", found, deferral))
            for key, item in value.items()
        ]
        if all(static for _, _, static in entries):
            return _static(value), True
        pairs = [(key, render) for key, render, _ in entries]
        return (lambda scope: {key: render(scope) for key, render in pairs}), False
    if isinstance(value, list | tuple):
        items = [_compile(item, f"{pointer}/{i}", found, deferral) for i, item in enumerate(value)]
        if all(static for _, static in items):
            return _static(value), True
        renders = [render for render, _ in items]
        return (lambda scope: [render(scope) for render in renders]), False
    return (lambda scope: value), True


def _static(value: Any) -> Renderer:
    frozen = _fresh(value)
    return lambda scope: _fresh(frozen)

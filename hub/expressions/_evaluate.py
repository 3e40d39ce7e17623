"""Compile a checked AST into a tree of Python closures, and the public value types.

Every AST node type is either on the whitelist below (and compiled into a closure) or refused with
an :class:`ExpressionError` while parsing; evaluation then only calls those closures.
"""

from __future__ import annotations

import ast
import json
import operator
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from hub.errors import ExpressionError
from hub.expressions._functions import (
    FUNCTIONS,
    MAX_EXPONENT,
    MAX_INT_BITS,
    MAX_LIST_LENGTH,
    MAX_STRING_LENGTH,
    PathNotFound,
    a_type,
    check_int,
    check_string,
    closest,
    format_value,
    is_number,
    resource_error,
    type_name,
)
from hub.expressions._parse import (
    REF_PREFIX,
    Source,
    escape_pointer,
    parse_source,
    split_template,
)

Scope = Mapping[str, Any]
Evaluator = Callable[[Scope], Any]

_ALIASES: dict[str, Any] = {"true": True, "false": False, "null": None}
_NAMES = [*FUNCTIONS, *_ALIASES]
_ROOTS = frozenset({"input", "execution", "env", "credential"})
_FUNCTION_LIST = ", ".join(FUNCTIONS)

_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Lambda: "lambda expressions are",
    ast.ListComp: "comprehensions are",
    ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are",
    ast.GeneratorExp: "generator expressions are",
    ast.JoinedStr: "f-strings are",
    ast.FormattedValue: "f-strings are",
    ast.NamedExpr: "assignment expressions (:=) are",
    ast.Starred: "'*' unpacking is",
    ast.Await: "await is",
    ast.Yield: "yield is",
    ast.YieldFrom: "yield is",
    ast.Set: "set literals are",
    ast.Slice: "slices outside [] are",
}


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
        return [*a, *b]
    if is_number(a) and is_number(b):
        return a + b
    raise _type_error("+", a, b, where)


def _repeat(seq: Any, times: int, where: str) -> Any:
    size = len(seq) * max(times, 0)
    if isinstance(seq, str):
        if size > MAX_STRING_LENGTH:
            raise resource_error(f"string longer than {MAX_STRING_LENGTH} characters in {where}")
        return seq * times
    if size > MAX_LIST_LENGTH:
        raise resource_error(f"list longer than {MAX_LIST_LENGTH} items in {where}")
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


# --- the compiler -------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, src: Source) -> None:
        self.src = src

    def fail(self, node: ast.AST, reason: str, suggestion: str | None = None) -> ExpressionError:
        return self.src.error(node, reason, suggestion)

    def ref_name(self, node: ast.AST) -> str | None:
        """The ``$``-name behind a rewritten Name node, or None for any other node."""
        if not isinstance(node, ast.Name) or not node.id.startswith(REF_PREFIX):
            return None
        name = self.src.refs.get(self.src.index(node.lineno, node.col_offset))
        if name is None or REF_PREFIX + name != node.id:  # not put there by the rewriting
            raise self.fail(node, "names starting with '_' are not allowed")
        return name

    def describe(self, node: ast.expr) -> str:
        """How a path is shown in messages: ``$a.b["c d"][0]``."""
        name = self.ref_name(node)
        if name is not None:
            return "$" + name
        if isinstance(node, ast.Attribute):
            return f"{self.describe(node.value)}.{node.attr}"
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            return f"{self.describe(node.value)}[{_key_text(node.slice.value)}]"
        return self.src.fragment(node)

    def static_path(self, node: ast.expr) -> tuple[str, ...] | None:
        name = self.ref_name(node)
        if name is not None:
            return (name,)
        if isinstance(node, ast.Attribute):
            base = self.static_path(node.value)
            return None if base is None else (*base, node.attr)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            base = self.static_path(node.value)
            return None if base is None else (*base, node.slice.value)
        return None

    def references(self, node: ast.AST, found: set[tuple[str, ...]]) -> None:
        if isinstance(node, ast.expr):
            path = self.static_path(node)
            if path is not None:
                found.add(path)
                return
        for child in ast.iter_child_nodes(node):
            self.references(child, found)

    # each node type ---------------------------------------------------------------------------

    def compile(self, node: ast.expr) -> Evaluator:
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.BinOp):
            return self.binop(node)
        if isinstance(node, ast.UnaryOp):
            return self.unaryop(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.BoolOp):
            return self.boolop(node)
        if isinstance(node, ast.IfExp):
            return self.ifexp(node)
        if isinstance(node, ast.List | ast.Tuple):
            return self.sequence(node.elts)
        if isinstance(node, ast.Dict):
            return self.dict(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        what = _FORBIDDEN.get(type(node), f"{type(node).__name__} expressions are")
        raise self.fail(node, f"{what} not allowed in expressions")

    def constant(self, node: ast.Constant) -> Evaluator:
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                check_int(value)
            except ExpressionError as exc:
                raise self.fail(node, exc.message) from None
        elif not (value is None or isinstance(value, str | bool | float)):
            raise self.fail(node, f"{type(value).__name__} literals are not allowed")
        return lambda scope: value

    def compile_base(self, node: ast.expr) -> Evaluator:
        """Compile what a ``.key`` or ``[index]`` reads from (a bare name there is a root)."""
        if isinstance(node, ast.Name):
            return self.name(node, as_root=True)
        return self.compile(node)

    def name(self, node: ast.Name, *, as_root: bool = False) -> Evaluator:
        ref = self.ref_name(node)
        if ref is not None:

            def root(scope: Scope) -> Any:
                try:
                    return scope[ref]
                except KeyError:
                    raise _missing_root(ref, scope) from None

            return root
        if node.id in _ALIASES:
            value = _ALIASES[node.id]
            return lambda scope: value
        if node.id in FUNCTIONS:
            usage = FUNCTIONS[node.id].usage
            raise self.fail(node, f"{node.id} is a function; call it as {usage}", usage)
        close = None if as_root or node.id in _ROOTS else closest(node.id, _NAMES)
        if close:
            raise self.fail(node, f"unknown name {node.id!r}; did you mean {close!r}?", close)
        raise self.fail(
            node,
            f"unknown name {node.id!r}; did you mean '${node.id}'? (inputs and node outputs"
            f" are written with '$', as in $input; the functions are {_FUNCTION_LIST})",
            "$" + node.id,
        )

    def attribute(self, node: ast.Attribute) -> Evaluator:
        if node.attr.startswith("_"):
            raise self.fail(node, "names starting with '_' are not allowed")
        return self.key_reader(node.value, node.attr, f".{node.attr}")

    def key_reader(self, base_node: ast.expr, key: str, shown: str) -> Evaluator:
        base = self.compile_base(base_node)
        desc = self.describe(base_node)
        path = desc + shown

        def read(scope: Scope) -> Any:
            obj = base(scope)
            if type(obj) is dict:
                try:
                    return obj[key]
                except KeyError:
                    raise _missing_key(obj, key, path) from None
            return _read(obj, key, desc, path)

        return read

    def subscript(self, node: ast.Subscript) -> Evaluator:
        index = node.slice
        if isinstance(index, ast.Slice):
            return self.slice(node, index)
        if isinstance(index, ast.Constant) and isinstance(index.value, str):
            return self.key_reader(node.value, index.value, f"[{_key_text(index.value)}]")
        base = self.compile_base(node.value)
        key_of = self.compile(index)
        desc = self.describe(node.value)

        def read(scope: Scope) -> Any:
            obj = base(scope)
            key = key_of(scope)
            return _read(obj, key, desc, f"{desc}[{_key_text(key)}]")

        return read

    def slice(self, node: ast.Subscript, index: ast.Slice) -> Evaluator:
        base = self.compile_base(node.value)
        desc = self.describe(node.value)
        where = self.src.fragment(node)
        bounds = [
            None if b is None else self.compile(b) for b in (index.lower, index.upper, index.step)
        ]

        def read(scope: Scope) -> Any:
            obj = base(scope)
            values: list[int | None] = []
            for bound in bounds:
                value = None if bound is None else bound(scope)
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise ExpressionError(
                        f"slice bounds must be integers, got {a_type(value)} in {where}"
                    )
                values.append(value)
            if values[2] == 0:
                raise ExpressionError(f"slice step cannot be zero in {where}")
            if isinstance(obj, str | list):
                return obj[values[0] : values[1] : values[2]]
            if isinstance(obj, tuple):
                return list(obj[values[0] : values[1] : values[2]])
            if obj is None:
                raise PathNotFound(f"{where} not found ({desc} is null)", path=where)
            raise ExpressionError(f"cannot slice {a_type(obj)} in {where}")

        return read

    def binop(self, node: ast.BinOp) -> Evaluator:
        entry = _BINARY.get(type(node.op))
        if entry is None:
            raise self.fail(node, "this operator is not allowed (use + - * / // % **)")
        _, apply = entry
        left = self.compile(node.left)
        right = self.compile(node.right)
        where = self.src.fragment(node)
        return lambda scope: apply(left(scope), right(scope), where)

    def unaryop(self, node: ast.UnaryOp) -> Evaluator:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda scope: not operand(scope)
        where = self.src.fragment(node)
        if isinstance(node.op, ast.USub):
            neg = _unary("-", operator.neg)
            return lambda scope: neg(operand(scope), where)
        if isinstance(node.op, ast.UAdd):
            pos = _unary("+", operator.pos)
            return lambda scope: pos(operand(scope), where)
        raise self.fail(node, "the '~' operator is not allowed")

    def compare(self, node: ast.Compare) -> Evaluator:
        tests = []
        for op in node.ops:
            test = _COMPARE.get(type(op))
            if test is None:
                raise self.fail(node, "'is' and 'is not' are not allowed; use == and != instead")
            tests.append(test)
        operands = [self.compile(n) for n in (node.left, *node.comparators)]
        where = self.src.fragment(node)
        if len(tests) == 1:
            test, left, right = tests[0], operands[0], operands[1]
            return lambda scope: test(left(scope), right(scope), where)
        steps = list(zip(tests, operands[1:], strict=True))
        first = operands[0]

        def chain(scope: Scope) -> Any:
            a = first(scope)
            for test, operand in steps:
                b = operand(scope)
                if not test(a, b, where):
                    return False
                a = b
            return True

        return chain

    def boolop(self, node: ast.BoolOp) -> Evaluator:
        first, *rest = [self.compile(v) for v in node.values]
        if isinstance(node.op, ast.And):

            def all_of(scope: Scope) -> Any:
                value = first(scope)
                for nxt in rest:
                    if not value:
                        return value
                    value = nxt(scope)
                return value

            return all_of

        def any_of(scope: Scope) -> Any:
            value = first(scope)
            for nxt in rest:
                if value:
                    return value
                value = nxt(scope)
            return value

        return any_of

    def ifexp(self, node: ast.IfExp) -> Evaluator:
        test = self.compile(node.test)
        body = self.compile(node.body)
        orelse = self.compile(node.orelse)
        return lambda scope: body(scope) if test(scope) else orelse(scope)

    def sequence(self, elements: Sequence[ast.expr]) -> Evaluator:
        items = [self.compile(e) for e in elements]
        return lambda scope: [item(scope) for item in items]

    def dict(self, node: ast.Dict) -> Evaluator:
        pairs: list[tuple[Evaluator, Evaluator]] = []
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None:
                raise self.fail(node, "'**' unpacking is not allowed")
            pairs.append((self.compile(key), self.compile(value)))
        where = self.src.fragment(node)

        def build(scope: Scope) -> Any:
            out: dict[Any, Any] = {}
            for key_of, value_of in pairs:
                key = key_of(scope)
                if not (key is None or isinstance(key, str | int | float)):
                    raise ExpressionError(
                        f"object keys must be strings or numbers, got {a_type(key)} in {where}"
                    )
                out[key] = value_of(scope)
            return out

        return build

    def call(self, node: ast.Call) -> Evaluator:
        func = node.func
        if isinstance(func, ast.Attribute):
            base = self.src.fragment(func.value)
            if func.attr in FUNCTIONS:
                hint = f"{func.attr}({base})"
                raise self.fail(node, f"method calls are not allowed; use {hint} instead", hint)
            raise self.fail(
                node, f"method calls are not allowed; the functions are {_FUNCTION_LIST}"
            )
        if not isinstance(func, ast.Name):
            raise self.fail(node, "only the built-in functions can be called")
        ref = self.ref_name(func)
        if ref is not None:
            raise self.fail(node, f"${ref} is a value and cannot be called")
        spec = FUNCTIONS.get(func.id)
        if spec is None:
            close = closest(func.id, list(FUNCTIONS))
            hint = f"did you mean {close!r}?" if close else f"the functions are {_FUNCTION_LIST}"
            raise self.fail(node, f"unknown function {func.id!r}; {hint}", close)
        if node.keywords:
            raise self.fail(node, f"keyword arguments are not allowed; call it as {spec.usage}")
        count = len(node.args)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            raise self.fail(node, f"wrong number of arguments ({count}); call it as {spec.usage}")
        args = [self.compile(a) for a in node.args]
        impl = spec.impl
        if spec.name == "default":
            value_of, fallback_of = args

            def default(scope: Scope) -> Any:
                try:
                    value = value_of(scope)
                except PathNotFound:
                    return fallback_of(scope)
                return fallback_of(scope) if value is None else value

            return default
        if count == 0:
            return lambda scope: impl(())
        if count == 1:
            only = args[0]
            return lambda scope: impl((only(scope),))
        return lambda scope: impl([arg(scope) for arg in args])


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

    def evaluate(self, scope: Scope) -> Any:
        """The value for ``scope`` (keys are names without ``$``: "input", "fetch_user", ...)."""
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

    def render(self, scope: Scope) -> Any:
        """The value itself for a lone ``{{ }}``; otherwise the text with each value formatted."""
        if self._single is not None:
            return _fresh(self._single.evaluate(scope))
        if self.is_static:
            return self.source
        out = [p if isinstance(p, str) else format_value(p.evaluate(scope)) for p in self._parts]
        return check_string("".join(out))

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
    """A whole JSON value with every string parsed as a :class:`Template`."""

    __slots__ = ("_render", "_value", "is_static", "references")

    is_static: bool
    references: frozenset[tuple[str, ...]]

    def __init__(
        self, value: Any, render: Renderer, is_static: bool, references: frozenset[tuple[str, ...]]
    ) -> None:
        self._value = value
        self._render = render
        self.is_static = is_static
        self.references = references

    def render(self, scope: Scope) -> Any:
        """A resolved deep copy of the value: fresh dicts and lists on every call."""
        return self._render(scope)

    def __repr__(self) -> str:
        return f"CompiledValue({self._value!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (compile_value, (self._value,))


def compile_value(value: Any) -> CompiledValue:
    """Compile every string in ``value``; errors carry ``.path``, the string's JSON pointer."""
    found: set[tuple[str, ...]] = set()
    render, static = _compile(value, "", found)
    return CompiledValue(_fresh(value), render, static, frozenset(found))


def _compile(value: Any, pointer: str, found: set[tuple[str, ...]]) -> tuple[Renderer, bool]:
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
            (key, *_compile(item, f"{pointer}/{escape_pointer(str(key))}", found))
            for key, item in value.items()
        ]
        if all(static for _, _, static in entries):
            return _static(value), True
        pairs = [(key, render) for key, render, _ in entries]
        return (lambda scope: {key: render(scope) for key, render in pairs}), False
    if isinstance(value, list | tuple):
        items = [_compile(item, f"{pointer}/{i}", found) for i, item in enumerate(value)]
        if all(static for _, static in items):
            return _static(value), True
        renders = [render for render, _ in items]
        return (lambda scope: [render(scope) for render in renders]), False
    return (lambda scope: value), True


def _static(value: Any) -> Renderer:
    frozen = _fresh(value)
    return lambda scope: _fresh(frozen)

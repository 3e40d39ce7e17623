"""Compile a checked AST into a tree of Python closures.

Every AST node type is either on the whitelist below (and compiled into a closure) or refused with
an :class:`ExpressionError` while parsing; evaluation then only calls those closures.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from hub.errors import ExpressionError
from hub.expressions._functions import (
    FUNCTIONS,
    PathNotFound,
    a_type,
    closest,
)
from hub.expressions._limits import check_int, current_budget, tick
from hub.expressions._operators import (
    _BINARY,
    _COMPARE,
    _key_text,
    _missing_key,
    _missing_root,
    _read,
    _unary,
    check_value_size,
)
from hub.expressions._parse import (
    REF_PREFIX,
    Source,
)

Scope = Mapping[str, Any]
Evaluator = Callable[[Scope], Any]

_ALIASES: dict[str, Any] = {"true": True, "false": False, "null": None}
_NAMES = [*FUNCTIONS, *_ALIASES]
_ROOTS = frozenset({"input", "execution", "env", "credential", "item", "index"})
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
            return self.sequence(node)
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

        def run(scope: Scope) -> Any:
            a, b = left(scope), right(scope)
            tick(where)
            return apply(a, b, where)

        return run

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

            def compare_one(scope: Scope) -> Any:
                a, b = left(scope), right(scope)
                tick(where)
                return test(a, b, where)

            return compare_one
        steps = list(zip(tests, operands[1:], strict=True))
        first = operands[0]

        def chain(scope: Scope) -> Any:
            a = first(scope)
            for test, operand in steps:
                b = operand(scope)
                tick(where)
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

    def sequence(self, node: ast.List | ast.Tuple) -> Evaluator:
        items = [self.compile(e) for e in node.elts]
        where = self.src.fragment(node)

        def build(scope: Scope) -> Any:
            values = [item(scope) for item in items]
            tick(where)
            if values:  # the items may be shared: count each as it will be written out
                budget = current_budget()
                size = 1 + len(values) + budget.items_size(values)
                check_value_size(size, where)
                budget.remember(values, size)
            return values

        return build

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
            tick(where)
            if out:
                budget = current_budget()
                size = 1 + 2 * len(out)  # braces, colons and commas
                size += budget.items_size(out) + budget.items_size(out.values())
                check_value_size(size, where)
                budget.remember(out, size)
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
        where = self.src.fragment(node)
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

            def call_none(scope: Scope) -> Any:
                tick(where)
                return impl(())

            return call_none
        if count == 1:
            only = args[0]

            def call_one(scope: Scope) -> Any:
                value = only(scope)
                tick(where)
                return impl((value,))

            return call_one

        def call_many(scope: Scope) -> Any:
            values = [arg(scope) for arg in args]
            tick(where)
            return impl(values)

        return call_many

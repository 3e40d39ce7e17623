"""Generated expressions finish in bounded time and memory (issue 13, defect 4).

Hypothesis writes expression texts from the grammar in docs/dsl.md -- numbers chosen to multiply
sizes, strings, lists, objects, every operator, every function, catastrophic regular expressions
and values from a scope that holds large and shared data -- and each is rendered and written out
as JSON under a small budget. Each must give a value or an ExpressionError, well within a bound
derived from the budget (a proof that nothing hangs, not a speed claim), with a bounded peak of
allocated memory.
"""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import ExpressionError
from hub.expressions import FUNCTION_NAMES, parse_template

BUDGET_S = 0.1
# Generous: parsing, copying the result and writing it out are outside the budget, and CI
# machines are shared. Without the limits some of these run for hours.
TIME_BOUND_S = BUDGET_S * 100
MEMORY_BOUND = 96 * 2**20  # a value at the size limit takes at most ~40 MB in Python objects

SCOPE: dict[str, Any] = {
    "s": "ab" * 25_000,
    "l": list(range(1000)),
    "d": {"k": [1, 2, 3], "t": "text", "n": None},
    "n": 2**4000,
    "shared": [[0] * 100] * 100,  # 100 references to one list
    "words": [f"w{i}" for i in range(5000)],
    "a": "a" * 5000 + "!",  # what a backtracking pattern chokes on
}

NUMBERS = st.sampled_from(
    ["0", "1", "2", "3", "-1", "10", "1000", "99999", "100000", "10**5", "4096", "0.5", "1e308"]
)
# Sizes multiply: these are the numbers that make them explode.
MULTIPLIERS = st.sampled_from(["2", "10", "1000", "99999", "100000", "10**5", "$d.k[2]"])
PATTERNS = st.sampled_from(
    [
        "'(a+)+$'",  # catastrophic for a backtracking engine
        "'(a|aa)+$'",
        "'(x+x+)+y'",
        "'(\\\\w+\\\\s?)*$'",
        "'(.*a){20}'",
        "'^a'",
        "'b$'",
        "'(ab)\\\\1'",
        "'a(b'",  # invalid
    ]
)
STRINGS = st.one_of(st.sampled_from(["''", "'a'", "'ab'", "' '", "'1 2 3'", "'x,y'"]), PATTERNS)
NAMES = st.sampled_from(
    ["$s", "$l", "$d", "$n", "$shared", "$words", "$a", "$d.k", "$d.t", "true", "null"]
)
BINARY = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "==", "<", "in", "and", "or"])
ARITY = {
    "len": 1,
    "int": 1,
    "float": 1,
    "str": 1,
    "bool": 1,
    "round": 2,
    "abs": 1,
    "min": 1,
    "max": 1,
    "sum": 1,
    "sorted": 1,
    "lower": 1,
    "upper": 1,
    "strip": 1,
    "split": 2,
    "join": 2,
    "contains": 2,
    "startswith": 2,
    "endswith": 2,
    "matches": 2,
    "numbers": 1,
    "json": 1,
    "now": 0,
    "default": 2,
}
assert set(ARITY) == FUNCTION_NAMES, "a new function needs its arity here"


ATOMS = st.one_of(NUMBERS, STRINGS, NAMES)
# The productions, weighted towards those that multiply sizes or backtrack.
KINDS = st.sampled_from(
    ["nest"] * 3
    + ["repeat"] * 3
    + ["binary"] * 2
    + ["call"] * 2
    + ["matches", "list", "object", "choice", "index", "slice", "unary"]
)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 4) -> str:
    """One expression text from the grammar, at most ``depth`` operators deep."""
    if depth == 0 or draw(st.integers(0, 4)) == 0:
        return draw(ATOMS)
    inner = expressions(depth - 1)
    kind = draw(KINDS)
    if kind == "nest":
        return f"[{draw(inner)}] * {draw(MULTIPLIERS)}"
    if kind == "repeat":
        return f"({draw(inner)} * {draw(MULTIPLIERS)})"
    if kind == "binary":
        return f"({draw(inner)} {draw(BINARY)} {draw(inner)})"
    if kind == "call":
        name = draw(st.sampled_from(sorted(ARITY)))
        args = [draw(inner) for _ in range(ARITY[name])]
        return f"{name}({', '.join(args)})"
    if kind == "matches":
        return f"matches({draw(st.one_of(st.just('$a'), inner))}, {draw(PATTERNS)})"
    if kind == "list":
        return "[" + ", ".join(draw(st.lists(inner, min_size=1, max_size=4))) + "]"
    if kind == "object":
        pairs = draw(st.lists(st.tuples(STRINGS, inner), min_size=1, max_size=3))
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if kind == "choice":
        return f"({draw(inner)} if {draw(inner)} else {draw(inner)})"
    if kind == "index":
        return f"{draw(inner)}[{draw(inner)}]"
    if kind == "slice":
        return f"{draw(inner)}[:{draw(NUMBERS)}]"
    return f"{draw(st.sampled_from(['not ', '-']))}{draw(inner)}"


def _render(source: str) -> None:
    try:
        value = parse_template("{{ " + source + " }}").render(SCOPE, budget_s=BUDGET_S)
        json.dumps(value)  # written out, as the store and the API do
    except ExpressionError:
        pass


@settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the repo
    derandomize=True,  # the same examples on every run: a stable suite
    suppress_health_check=[HealthCheck.too_slow],
)
@given(expressions())
def test_generated_expressions_finish_in_bounded_time_and_memory(source: str) -> None:
    started = time.monotonic()
    _render(source)  # a value or an ExpressionError, nothing else
    elapsed = time.monotonic() - started
    assert elapsed < TIME_BOUND_S, f"{source!r} took {elapsed:.2f} s (budget {BUDGET_S} s)"
    # Again with allocations traced (apart: tracing slows Python down many times over).
    tracemalloc.start()
    try:
        _render(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"{source!r} allocated {peak / 2**20:.0f} MiB at its peak"

"""Expression limits that used to be bypassed (issue 13, defect 4): catastrophic regular
expressions, values that share references and explode when written out, and evaluations with
no time bound. Each case fails (or hangs until the per-test timeout) without the fix."""

from __future__ import annotations

import asyncio
import random
import tracemalloc
from typing import Any

import pytest

from hub.compiler import compile_workflow
from hub.errors import ErrorCategory, ExpressionError
from hub.expressions import (
    MAX_VALUE_SIZE,
    ExpressionLimitExceeded,
    ExpressionTimeout,
    compile_value,
    parse_expression,
    parse_template,
)
from hub.local import run_in_process
from hub.records import ExecutionRecord, ExecutionStatus, StepRecord, StepStatus

# --- regular expressions -------------------------------------------------------------------------

CATASTROPHIC = [
    ("'a' * 99999 + '!'", "(a+)+$"),  # the issue's own example
    ("'a' * 5000 + '!'", "(a|aa)+$"),
    ("'a' * 5000 + '!'", r"(\w+\s?)*$"),
    ("'x' * 5000", "(x+x+)+y"),
]


@pytest.mark.timeout(60)  # without a budget, each of these backtracks for hours
@pytest.mark.parametrize(("text", "pattern"), CATASTROPHIC)
def test_catastrophic_regex_stops_at_the_render_budget(text: str, pattern: str) -> None:
    expression = parse_expression(f"matches({text}, {pattern!r})")
    with pytest.raises(ExpressionTimeout) as info:
        expression.evaluate({}, budget_s=0.2)
    assert info.value.category == ErrorCategory.TIMEOUT
    message = info.value.message
    assert message.startswith("time limit exceeded: matching the regular expression took")
    assert "0.2 s" in message
    assert repr(pattern) in message


def test_regex_keeps_the_python_syntax() -> None:
    # The engine backtracks like `re` (only with a deadline), so existing patterns keep working.
    assert parse_expression(r"matches('abab', '(ab)\\1')").evaluate({}) is True
    assert parse_expression(r"matches('abba', '(ab)\\1')").evaluate({}) is False
    assert parse_expression("matches('price: 42', '(?<=: )[0-9]+')").evaluate({}) is True
    assert parse_expression("matches('foobar', 'foo(?!bar)')").evaluate({}) is False
    assert parse_expression(r"matches('id-7', '(?P<n>\d)$')").evaluate({}) is True


def test_an_invalid_regex_names_the_pattern() -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression("matches('x', 'a(b')").evaluate({})
    assert info.value.category == ErrorCategory.EXPRESSION
    assert "invalid regular expression 'a(b'" in info.value.message


# --- sizes: what is written out, shared references counted -----------------------------------


@pytest.mark.parametrize(
    ("source", "scope"),
    [
        ("[[0] * 100000] * 100000", {}),  # the issue's own example
        ("[[0] * 1000] * 2000", {}),
        ("[[[0] * 100] * 100] * 100", {}),
        ("[[0] * 100000] * 4 + [[0] * 100000] * 4", {}),
        ("{'a': [[0] * 1000] * 600, 'b': [[0] * 1000] * 600}", {}),
        ("[$row] * 1000", {"row": list(range(10_000))}),
        ("[$doc, $doc, $doc]", {"doc": {"text": "x" * 400_000}}),
        ("[[$n] * 1000]", {"n": 2**4000}),  # 1000 numbers of 1205 digits each
        ("[[$t, $t, $t, $t]] * 100", {"t": "x" * 5000}),
    ],
)
def test_values_are_measured_as_written_out_before_they_are_built(
    source: str, scope: dict[str, Any]
) -> None:
    with pytest.raises(ExpressionLimitExceeded) as info:
        parse_expression(source).evaluate(scope)
    assert info.value.category == ErrorCategory.VALIDATION
    assert f"value larger than {MAX_VALUE_SIZE:,} characters as JSON in" in info.value.message


def test_values_within_the_size_limit_still_build() -> None:
    assert len(parse_expression("[[0] * 100000] * 4").evaluate({})) == 4
    assert parse_expression("[[1, 2]] * 3 + [[3]]").evaluate({}) == [[1, 2]] * 3 + [[3]]
    assert parse_expression("{'a': [$x] * 2}").evaluate({"x": {"k": "v"}}) == {
        "a": [{"k": "v"}] * 2
    }
    # A large value passed through untouched is not built here, so it is not refused.
    big = {"items": list(range(600_000))}
    assert parse_template("{{ $big }}").render({"big": big}) == big


SHARED = [[0] * 1000] * 1000  # 8 kB in memory, 2 MB as JSON text


@pytest.mark.parametrize(
    "template",
    [
        "rows: {{ $shared }}",
        "{{ str($shared) }}",
        "{{ json($shared) }}",
        "{{ join([$shared], ',') }}",
        "{{ join($shared, ',') }}",
    ],
)
def test_text_is_refused_before_it_is_written_out(template: str) -> None:
    compiled = parse_template(template)
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionLimitExceeded, match="resource limit exceeded"):
            compiled.render({"shared": SHARED})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 500_000, f"{peak} bytes allocated to refuse {template!r}"


HUGE = "ab " * 1_000_000  # 3 MB; split into words, 1,000,000 strings (about 60 MB)


@pytest.mark.parametrize(
    ("source", "peak_limit"),
    [
        ("upper($t)", 500_000),
        ("lower($t)", 500_000),
        # At most one part past the limit is split off (plus the rest of the text in one piece).
        ("split($t)", 20_000_000),
        ("split($t, ' ')", 20_000_000),
    ],
)
def test_string_functions_refuse_before_copying_a_huge_text(source: str, peak_limit: int) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionLimitExceeded, match="resource limit exceeded"):
            parse_expression(source).evaluate({"t": HUGE})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < peak_limit, f"{peak} bytes allocated to refuse {source!r}"


def test_numbers_stops_at_the_list_limit() -> None:
    with pytest.raises(ExpressionError, match="numbers\\(\\) found more than 100000 numbers"):
        parse_expression("numbers($t)").evaluate({"t": "1 " * 200_000}, budget_s=60)


# --- the wall-clock budget of one render --------------------------------------------------------

_RNG = random.Random(3)
WORDS = [str(_RNG.random()) for _ in range(50_000)]
SORTS = "[" + ", ".join(["len(sorted($words))"] * 100) + "]"  # seconds of work without a budget


def test_an_expensive_expression_stops_at_its_budget() -> None:
    with pytest.raises(ExpressionTimeout) as info:
        parse_expression(SORTS).evaluate({"words": WORDS}, budget_s=0.1)
    assert info.value.category == ErrorCategory.TIMEOUT
    assert "time limit exceeded: evaluating took longer than the 0.1 s allowed for one render" in (
        info.value.message
    )
    assert "len(sorted($words))" in info.value.message


def test_one_budget_covers_every_template_of_a_value() -> None:
    # Each template alone fits in the budget; together they do not.
    one = "{{ [" + ", ".join(["len(sorted($words))"] * 3) + "] }}"
    compiled = compile_value({f"p{i}": one for i in range(60)})
    with pytest.raises(ExpressionTimeout):
        compiled.render({"words": WORDS}, budget_s=0.1)
    assert compiled.render({"words": WORDS[:10]}, budget_s=5)["p0"] == [10, 10, 10]


def test_the_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        parse_expression("1").evaluate({}, budget_s=0)


# --- in the runner: the step fails with a clear category, other runs go on ----------------------


def _workflow(message: str) -> Any:
    document = {
        "id": "wf",
        "nodes": [{"id": "n", "type": "log", "parameters": {"message": message}}],
        "edges": [],
    }
    return compile_workflow(document).raise_for_errors()


def _step(record: ExecutionRecord) -> StepRecord:
    (found,) = [s for s in record.steps if s.node_id == "n"]
    return found


@pytest.mark.timeout(60)  # without the budget the first run never ends
def test_expensive_steps_fail_as_timeout_or_validation_and_other_runs_finish() -> None:
    async def both() -> list[ExecutionRecord]:
        runs = [
            run_in_process(_workflow("{{ matches('a' * 99999 + '!', '(a+)+$') }}")),
            run_in_process(_workflow("{{ len(str([[0] * 1000] * 2000)) }}")),
            run_in_process(_workflow("{{ 6 * 7 }}")),
        ]
        return list(await asyncio.gather(*runs))

    regex_run, size_run, plain_run = asyncio.run(both())

    assert regex_run.status == ExecutionStatus.FAILED
    regex_step = _step(regex_run)
    assert regex_step.status == StepStatus.FAILED
    assert regex_step.error is not None
    assert regex_step.error.category == "timeout"
    assert regex_step.error.message.startswith("time limit exceeded: matching the regular")
    assert regex_step.attempts == 1

    size_step = _step(size_run)
    assert size_step.error is not None
    assert size_step.error.category == "validation"
    assert "value larger than" in size_step.error.message

    assert plain_run.status == ExecutionStatus.COMPLETED
    assert plain_run.outputs["n"] == {"logged": True, "message": "42"}

"""Logs from inside nodes reach the execution's log (issue #17): ctx.log of any family, a code
node's print, a shell node's stderr, also when the attempt fails."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub.errors import StepFailed
from hub.nodes import NodeCall, default_registry, invoke_reporting, unwrap
from hub.nodes._code import MAX_PRINTED, _Capped
from hub.nodes._context import MAX_OUTPUT_LINES


def attempt(node_type: str, **parameters: Any) -> Any:
    """One attempt as a node actor reports it, unwrapped as the ExecutionActor does."""
    call = NodeCall(
        execution_id="e1",
        workflow_id="wf",
        node_id="n",
        node_type=node_type,
        attempt=1,
        parameters=parameters,
        enabled_families=["code", "shell"],
    )
    return unwrap(asyncio.run(invoke_reporting(default_registry(), call)))


def test_a_code_nodes_prints_become_log_lines_by_stream() -> None:
    source = (
        "import sys\n"
        "def main(i):\n"
        "    print('hello', i['n'])\n"
        "    print('oops', file=sys.stderr)\n"
        "    return {}"
    )
    result = attempt("code", source=source, input={"n": 3})
    assert [(x.level, x.source, x.message) for x in result.logs] == [
        ("info", "stdout", "hello 3"),
        ("warn", "stderr", "oops"),
    ]


def test_the_logs_of_a_failed_attempt_come_with_its_error() -> None:
    source = "def main(i):\n    print('about to fail')\n    raise ValueError('bad')"
    with pytest.raises(StepFailed, match="ValueError: bad") as caught:
        attempt("code", source=source)
    assert [x.message for x in caught.value.logs] == ["about to fail"]


def test_a_shell_nodes_stderr_lines_are_logged() -> None:
    result = attempt("shell", argv=["sh", "-c", "echo out; echo err1 >&2; echo err2 >&2"])
    assert result.output["stdout"] == "out\n"
    assert [(x.source, x.message) for x in result.logs] == [("stderr", "err1"), ("stderr", "err2")]
    with pytest.raises(StepFailed, match="exited with code 3: why") as caught:
        attempt("shell", argv=["sh", "-c", "echo why >&2; exit 3"])
    assert [x.message for x in caught.value.logs] == ["why"]


def test_output_logging_is_bounded() -> None:
    lines = MAX_OUTPUT_LINES + 5
    source = f"def main(i):\n    for n in range({lines}):\n        print(n)\n    return {{}}"
    logs = attempt("code", source=source).logs
    assert len(logs) == MAX_OUTPUT_LINES + 1
    assert logs[-1].message == "[5 more lines of stdout not logged]"
    capped = _Capped()
    capped.write("x" * (MAX_PRINTED + 10))
    capped.write("more")
    assert len(capped.getvalue()) == MAX_PRINTED

"""Blocking node types (a plain ``def``): registered as such, run in a worker thread by
``invoke`` and in the calling thread by ``invoke_blocking_reporting`` (a node actor's call
thread), with the same answers, logs and failures as an ``async`` type."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from hub.errors import HubError
from hub.nodes import (
    NodeCall,
    NodeContext,
    NodeRegistry,
    NodeResult,
    invoke,
    invoke_blocking_reporting,
    invoke_reporting,
    node_type,
)
from hub.records import ErrorInfo


def registry_with_blocking() -> NodeRegistry:
    registry = NodeRegistry()

    @node_type("t.blocking", registry=registry)
    def blocking(params: Any, ctx: NodeContext) -> dict[str, Any]:
        ctx.log("info", "ran")
        return {"thread": threading.current_thread().name}

    @node_type("t.failing", registry=registry)
    def failing(params: Any, ctx: NodeContext) -> dict[str, Any]:
        ctx.log("info", "about to fail")
        raise ValueError("no good")

    @node_type("t.exits", registry=registry)
    def exits(params: Any, ctx: NodeContext) -> dict[str, Any]:
        raise SystemExit(3)

    @node_type("t.async", registry=registry)
    async def not_blocking(params: Any, ctx: NodeContext) -> dict[str, Any]:
        return {}

    return registry


def call(node_type_name: str) -> NodeCall:
    return NodeCall(
        execution_id="e1",
        workflow_id="wf",
        node_id="n",
        node_type=node_type_name,
        attempt=2,
        parameters={},
    )


def test_a_plain_def_registers_as_blocking_and_async_does_not() -> None:
    registry = registry_with_blocking()
    assert registry.get("t.blocking").blocking
    assert not registry.get("t.async").blocking


def test_only_an_isolated_blocking_type_runs_in_a_node_actors_call_thread() -> None:
    from hub.nodes import default_registry

    assert default_registry().get("code").in_call_thread  # blocking and isolated
    assert not registry_with_blocking().get("t.blocking").in_call_thread  # via the loop
    assert not default_registry().get("http").in_call_thread  # async


def test_an_inline_type_must_be_async() -> None:
    with pytest.raises(HubError, match=r"'t\.inline'.*must be `async def`"):

        @node_type("t.inline", inline=True, registry=NodeRegistry())
        def inline(params: Any, ctx: NodeContext) -> dict[str, Any]:
            return {}


def test_invoke_runs_a_blocking_type_off_the_event_loop() -> None:
    registry = registry_with_blocking()

    async def run() -> tuple[NodeResult, str]:
        return await invoke(registry, call("t.blocking")), threading.current_thread().name

    result, loop_thread = asyncio.run(run())
    assert result.output["thread"] != loop_thread
    assert [line.message for line in result.logs] == ["ran"]


def test_invoke_blocking_reporting_runs_in_the_calling_thread() -> None:
    result = invoke_blocking_reporting(registry_with_blocking(), call("t.blocking"))
    assert isinstance(result, NodeResult)
    assert result.output == {"thread": threading.current_thread().name}
    assert [line.message for line in result.logs] == ["ran"]


def test_a_blocking_failure_is_answered_as_the_async_path_answers_it() -> None:
    registry = registry_with_blocking()
    here = invoke_blocking_reporting(registry, call("t.failing"))
    via_loop = asyncio.run(invoke_reporting(registry, call("t.failing")))
    assert isinstance(here, NodeResult) and isinstance(via_loop, NodeResult)
    assert here.error == via_loop.error
    error = ErrorInfo.model_validate(here.error)
    assert (error.message, error.category, error.attempts) == (
        "ValueError: no good",
        "node_error",
        2,
    )
    assert [line.message for line in here.logs] == ["about to fail"]


def test_the_code_node_is_blocking() -> None:
    from hub.nodes import default_registry

    assert default_registry().get("code").blocking


def test_sys_exit_in_a_node_fails_the_step_on_both_paths() -> None:
    registry = registry_with_blocking()
    here = invoke_blocking_reporting(registry, call("t.exits"))
    via_loop = asyncio.run(invoke_reporting(registry, call("t.exits")))
    assert isinstance(here, ErrorInfo) and isinstance(via_loop, ErrorInfo)
    assert (here.message, here.category) == ("SystemExit: 3", "node_error")
    assert via_loop.message == here.message


def test_sys_exit_in_code_fails_the_step_with_its_line() -> None:
    from hub.nodes import default_registry

    code = call("code").model_copy(
        update={
            "parameters": {"source": "import sys\ndef main(input):\n    sys.exit(3)\n"},
            "enabled_families": ["code"],
        }
    )
    result = invoke_blocking_reporting(default_registry(), code)
    assert isinstance(result, ErrorInfo)
    assert (result.message, result.category) == ("SystemExit: 3 (line 3)", "node_error")

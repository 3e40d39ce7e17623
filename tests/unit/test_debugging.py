"""hub.debugging: the gate in front of every step (pause, breakpoints, stepping)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from hub.debugging import (
    BREAKPOINT,
    PAUSE,
    START,
    STEP,
    Gate,
    check_breakpoints,
    compile_condition,
)
from hub.errors import HubError
from hub.records import Breakpoint


def scope(**outputs: Any) -> Callable[[], Mapping[str, Any]]:
    """What a breakpoint condition sees: the run's inputs and the upstream outputs."""
    return lambda: {"input": {"limit": 3}, **outputs}


NO_SCOPE = scope()


def debug_gate(*breakpoints: Breakpoint, in_document: tuple[str, ...] = ()) -> Gate:
    return Gate.for_run(debug=True, breakpoints=breakpoints, node_breakpoints=in_document)


# --- which runs stop at all -----------------------------------------------------------------------


def test_a_normal_run_never_holds_even_with_breakpoints_in_the_document() -> None:
    gate = Gate.for_run(debug=False, breakpoints=[], node_breakpoints=["a", "b"])
    assert [gate.admit(n, NO_SCOPE) for n in ("a", "b", "c")] == [None, None, None]
    assert not gate.held


def test_a_debug_run_without_breakpoints_stops_before_its_first_node_only() -> None:
    gate = debug_gate()
    hold = gate.admit("a", NO_SCOPE)
    assert hold is not None
    assert (hold.reason, hold.node_id) == (START, "a")
    assert gate.held
    # held: nothing else starts either
    assert gate.admit("b", NO_SCOPE) is hold
    gate.release()
    assert gate.admit("a", NO_SCOPE) is None
    assert gate.admit("b", NO_SCOPE) is None


def test_a_debug_run_with_breakpoints_does_not_stop_at_the_start() -> None:
    gate = debug_gate(in_document=("c",))
    assert gate.admit("a", NO_SCOPE) is None
    assert gate.admit("b", NO_SCOPE) is None
    hold = gate.admit("c", NO_SCOPE)
    assert hold is not None
    assert (hold.reason, hold.node_id, hold.detail) == (BREAKPOINT, "c", None)


def test_breakpoints_in_the_run_options_imply_a_debug_run() -> None:
    gate = Gate.for_run(debug=False, breakpoints=[Breakpoint(node_id="b")], node_breakpoints=[])
    assert gate.admit("a", NO_SCOPE) is None
    hold = gate.admit("b", NO_SCOPE)
    assert hold is not None and hold.reason == BREAKPOINT


def test_document_and_option_breakpoints_both_stop() -> None:
    gate = debug_gate(Breakpoint(node_id="b"), in_document=("a",))
    assert sorted(gate.breakpoints) == ["a", "b"]
    first = gate.admit("a", NO_SCOPE)
    assert first is not None and first.node_id == "a"
    gate.release()
    assert gate.admit("a", NO_SCOPE) is None
    second = gate.admit("b", NO_SCOPE)
    assert second is not None and second.node_id == "b"


# --- breakpoints ----------------------------------------------------------------------------------


def test_each_breakpoint_stops_once() -> None:
    gate = debug_gate(Breakpoint(node_id="b"))
    assert gate.admit("b", NO_SCOPE) is not None
    gate.release()
    assert gate.admit("b", NO_SCOPE) is None
    assert gate.admit("b", NO_SCOPE) is None


@pytest.mark.parametrize(
    ("condition", "n", "stops"),
    [
        ("$a.n > $input.limit", 5, True),
        ("$a.n > $input.limit", 1, False),
        ("{{ $a.n == 1 }}", 1, True),
        ("{{ $a.n == 1 }}", 2, False),
        ("   ", 0, True),  # a blank condition is no condition
    ],
)
def test_a_conditional_breakpoint_stops_only_when_its_condition_holds(
    condition: str, n: int, stops: bool
) -> None:
    gate = debug_gate(Breakpoint(node_id="b", condition=condition))
    hold = gate.admit("b", scope(a={"n": n}))
    assert (hold is not None) == stops
    assert gate.held == stops


def test_a_breakpoint_whose_condition_fails_stops_and_says_why() -> None:
    gate = debug_gate(Breakpoint(node_id="b", condition="$a.missing > 1"))
    hold = gate.admit("b", scope(a={"n": 1}))
    assert hold is not None
    assert hold.reason == BREAKPOINT
    assert hold.detail is not None
    assert hold.detail.startswith("the breakpoint condition failed")
    assert "missing" in hold.detail


def test_the_condition_sees_the_scope_at_the_moment_the_node_is_admitted() -> None:
    seen: list[int] = []

    def counting() -> Mapping[str, Any]:
        seen.append(1)
        return {"a": {"n": 9}}

    gate = debug_gate(Breakpoint(node_id="b", condition="$a.n == 9"))
    assert gate.admit("a", counting) is None
    assert seen == []  # no breakpoint on a: its scope is never built
    assert gate.admit("b", counting) is not None
    assert seen == [1]


def test_set_breakpoints_replaces_them_and_rearms_a_passed_one() -> None:
    gate = debug_gate(Breakpoint(node_id="a"))
    assert gate.admit("a", NO_SCOPE) is not None
    gate.release()
    gate.set_breakpoints([Breakpoint(node_id="a"), Breakpoint(node_id="c", condition="$x")])
    assert sorted(gate.breakpoints) == ["a", "c"]
    hold = gate.admit("a", NO_SCOPE)
    assert hold is not None and hold.node_id == "a"
    gate.release()
    gate.set_breakpoints([])
    assert gate.admit("c", scope(x=True)) is None


def test_set_breakpoints_refuses_an_invalid_condition() -> None:
    gate = debug_gate(Breakpoint(node_id="a"))
    with pytest.raises(HubError, match="condition on 'b'"):
        gate.set_breakpoints([Breakpoint(node_id="b", condition="$x >")])


# --- pause, release, step -------------------------------------------------------------------------


def test_pause_holds_every_node_until_release() -> None:
    gate = Gate()
    assert gate.admit("a", NO_SCOPE) is None
    gate.pause()
    hold = gate.admit("b", NO_SCOPE)
    assert hold is not None
    assert (hold.reason, hold.node_id) == (PAUSE, None)
    gate.release()
    assert not gate.held
    assert gate.admit("b", NO_SCOPE) is None


def test_pause_while_stopped_at_a_breakpoint_keeps_the_breakpoint_reason() -> None:
    gate = debug_gate(Breakpoint(node_id="a"))
    gate.admit("a", NO_SCOPE)
    gate.pause()
    assert gate.hold is not None
    assert (gate.hold.reason, gate.hold.node_id) == (BREAKPOINT, "a")


def test_step_lets_only_the_given_nodes_start_then_holds() -> None:
    gate = debug_gate()
    gate.admit("a", NO_SCOPE)
    gate.release(step=["a", "b"])
    assert gate.admit("a", NO_SCOPE) is None
    assert gate.admit("b", NO_SCOPE) is None
    hold = gate.admit("c", NO_SCOPE)
    assert hold is not None
    assert (hold.reason, hold.node_id) == (STEP, "c")
    # continuing clears the step allowance
    gate.release()
    assert gate.admit("c", NO_SCOPE) is None
    assert gate.admit("d", NO_SCOPE) is None


def test_stepping_onto_a_breakpoint_node_runs_it() -> None:
    gate = debug_gate(Breakpoint(node_id="b"))
    gate.pause()
    gate.release(step=["b"])
    assert gate.admit("b", NO_SCOPE) is None


def test_release_before_the_first_node_cancels_the_start_stop() -> None:
    gate = debug_gate()
    gate.release()
    assert gate.admit("a", NO_SCOPE) is None


# --- checking breakpoints given by users ----------------------------------------------------------


def test_check_breakpoints_names_an_unknown_node_and_suggests_the_closest() -> None:
    with pytest.raises(HubError) as caught:
        check_breakpoints([Breakpoint(node_id="fetch_usr")], ["fetch_user", "greet"])
    assert "fetch_usr" in caught.value.message
    assert "did you mean 'fetch_user'" in caught.value.message


def test_check_breakpoints_refuses_a_condition_that_does_not_parse() -> None:
    with pytest.raises(HubError) as caught:
        check_breakpoints([Breakpoint(node_id="greet", condition="$a.n >")], ["greet"])
    assert "greet" in caught.value.message
    assert "invalid" in caught.value.message


def test_breakpoints_that_check_breakpoints_accepts_stop_where_they_say() -> None:
    accepted = [Breakpoint(node_id="a"), Breakpoint(node_id="b", condition="len($a.items) > 2")]
    check_breakpoints(accepted, iter(["a", "b"]))  # any node list, even a one-pass iterator
    for items, stops_at_b in (([1, 2, 3], True), ([1], False)):
        gate = debug_gate(*accepted)
        assert gate.listed() == accepted
        hold = gate.admit("a", NO_SCOPE)
        assert hold is not None
        assert (hold.reason, hold.node_id, hold.detail) == (BREAKPOINT, "a", None)
        gate.release()
        hold = gate.admit("b", scope(a={"items": items}))
        assert (hold is not None) == stops_at_b, items
        if hold is not None:
            assert (hold.reason, hold.node_id, hold.detail) == (BREAKPOINT, "b", None)


def test_compile_condition_refuses_what_expressions_never_allow() -> None:
    assert compile_condition(None, "x") is None
    assert compile_condition("", "x") is None
    with pytest.raises(HubError, match="node 'b': "):
        compile_condition("$a.__class__", "node 'b'")
    with pytest.raises(HubError):
        compile_condition("__import__('os')", "node 'b'")

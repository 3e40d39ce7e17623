"""The gate in front of every step: pause, resume, breakpoints and stepping. Pure.

The runner asks the gate before it starts a ready node. A held gate starts nothing; steps already
running finish, and once none is running the execution is *paused* (stored as ``paused``).

- ``pause()`` holds the gate; ``release()`` opens it (resume / continue).
- A breakpoint holds the gate before its node starts, when its condition (an expression over the
  same scope the node's parameters see) is true; a condition that fails to evaluate stops too,
  and the pause says why. Each breakpoint stops once per node.
- ``step()`` lets exactly the nodes ready now start, then holds again before any other node.
- A debug run without any breakpoint stops before its first nodes, as a debugger does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.errors import ExpressionError, HubError
from hub.expressions import Template, parse_template
from hub.records import Breakpoint


def parse_breakpoint(value: str | Breakpoint | dict[str, Any]) -> Breakpoint:
    """A breakpoint from ``"node"``, ``"node:condition"``, a dict or a Breakpoint."""
    if isinstance(value, Breakpoint):
        return value
    if isinstance(value, str):
        node_id, _, condition = value.partition(":")
        return Breakpoint(node_id=node_id.strip(), condition=condition.strip() or None)
    return Breakpoint.model_validate(value)


START = "start"
PAUSE = "pause"
BREAKPOINT = "breakpoint"
STEP = "step"


def compile_condition(condition: str | None, where: str) -> Template | None:
    """A breakpoint condition; bare expressions are accepted without ``{{ }}``."""
    if condition is None or not condition.strip():
        return None
    text = condition if "{{" in condition else "{{ " + condition + " }}"
    try:
        template = parse_template(text)
    except ExpressionError as exc:
        raise ExpressionError(f"{where}: {exc.message}") from None
    if not template.single:
        # Text around the expression would make the result a string, always truthy.
        raise ExpressionError(f"{where}: {condition!r} must be one expression, such as $a.n > 1")
    return template


def check_breakpoints(breakpoints: Iterable[Breakpoint], node_ids: Iterable[str]) -> None:
    """Refuse breakpoints on unknown nodes or with unparsable conditions, naming them."""
    known = set(node_ids)
    for bp in breakpoints:
        if bp.node_id not in known:
            import difflib

            close = difflib.get_close_matches(bp.node_id, sorted(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise HubError(f"breakpoint on unknown node {bp.node_id!r}{hint}")
        compile_condition(bp.condition, f"the breakpoint condition on {bp.node_id!r}")


@dataclass
class Hold:
    reason: str
    node_id: str | None = None
    detail: str | None = None


@dataclass
class Gate:
    breakpoints: dict[str, Template | None] = field(default_factory=dict)
    break_at_start: bool = False
    hold: Hold | None = None
    allowance: set[str] | None = None  # while stepping: the only nodes that may start
    passed: set[str] = field(default_factory=set)  # breakpoints already stopped at
    sources: dict[str, str | None] = field(default_factory=dict)  # condition texts, as given

    @classmethod
    def for_run(
        cls, *, debug: bool, breakpoints: Iterable[Breakpoint], node_breakpoints: Iterable[str]
    ) -> Gate:
        """The gate of a run; breakpoints only act in debug runs (``breakpoint: true`` in the
        document, or breakpoints in the run options, which imply a debug run)."""
        given = list(breakpoints)
        if not debug and not given:
            return cls()
        compiled: dict[str, Template | None] = dict.fromkeys(node_breakpoints)
        sources: dict[str, str | None] = dict.fromkeys(node_breakpoints)
        for bp in given:
            compiled[bp.node_id] = compile_condition(
                bp.condition, f"the breakpoint condition on {bp.node_id!r}"
            )
            sources[bp.node_id] = bp.condition
        return cls(breakpoints=compiled, break_at_start=not compiled, sources=sources)

    @property
    def held(self) -> bool:
        return self.hold is not None

    def set_breakpoints(self, breakpoints: Iterable[Breakpoint]) -> None:
        given = list(breakpoints)
        self.breakpoints = {
            bp.node_id: compile_condition(
                bp.condition, f"the breakpoint condition on {bp.node_id!r}"
            )
            for bp in given
        }
        self.sources = {bp.node_id: bp.condition for bp in given}
        # Re-armed, except where the run holds now: continuing from there runs that node.
        holding = self.hold.node_id if self.hold is not None else None
        self.passed -= set(self.breakpoints) - {holding}

    def listed(self) -> list[Breakpoint]:
        """The breakpoints as given (node and condition text)."""
        return [
            Breakpoint(node_id=n, condition=self.sources.get(n)) for n in sorted(self.breakpoints)
        ]

    def admit(self, node_id: str, scope: Callable[[], Mapping[str, Any]]) -> Hold | None:
        """None when ``node_id`` may start now; otherwise why the gate holds before it."""
        if self.hold is not None:
            return self.hold
        if self.break_at_start:
            self.break_at_start = False
            self.hold = Hold(START, node_id)
            return self.hold
        if self.allowance is not None and node_id not in self.allowance:
            self.allowance = None
            self.hold = Hold(STEP, node_id)
            return self.hold
        if node_id in self.breakpoints and node_id not in self.passed:
            self.passed.add(node_id)
            condition = self.breakpoints[node_id]
            detail = None
            if condition is not None:
                try:
                    if not condition.render(scope()):
                        return None
                except ExpressionError as exc:
                    detail = f"the breakpoint condition failed: {exc.message}"
            self.hold = Hold(BREAKPOINT, node_id, detail)
            return self.hold
        return None

    def pause(self) -> None:
        if self.hold is None:
            self.hold = Hold(PAUSE)

    def release(self, *, step: Iterable[str] | None = None) -> None:
        """Open the gate; with ``step``, only those nodes may start before it holds again."""
        self.hold = None
        self.break_at_start = False
        self.allowance = None if step is None else set(step)
        if step is not None:
            self.passed |= set(step)  # stepping onto a breakpoint node runs it

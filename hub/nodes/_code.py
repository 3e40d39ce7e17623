"""The ``code`` node: user Python ``main(input) -> dict`` in a node-actor process.

The node actor is the separate process; this module only compiles and calls. Compiled sources
are cached by their text, so a hot loop of the same code node pays the compile once. A timeout
is enforced by the caller, which kills the actor process (see ``isolated``).
"""

from __future__ import annotations

import contextlib
import io
import traceback
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import ErrorCategory, StepFailed
from hub.nodes._context import NodeContext
from hub.nodes._registry import PoolConfig, node_type

MAX_PRINTED = 1_000_000  # characters of a call's print output kept for its log


class CodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=1_000_000)
    input: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=30.0, gt=0, le=3600)


@lru_cache(maxsize=256)
def _load_main(source: str) -> Callable[[dict[str, Any]], Any]:
    try:
        code = compile(source, "<code node>", "exec")
    except SyntaxError as exc:
        raise StepFailed(
            f"code does not compile: {exc.msg} (line {exc.lineno})",
            category=ErrorCategory.VALIDATION,
        ) from None
    namespace: dict[str, Any] = {"__name__": "__hub_code__"}
    exec(code, namespace)  # the code family is opt-in: running user code is its purpose
    main = namespace.get("main")
    if not callable(main):
        raise StepFailed(
            "code must define a function main(input) that returns a dict",
            category=ErrorCategory.VALIDATION,
        )
    return main  # type: ignore[no-any-return]


class _Capped(io.StringIO):
    """A print target that keeps the first MAX_PRINTED characters (a loop printing forever
    must not fill the node's memory)."""

    def write(self, text: str) -> int:
        room = MAX_PRINTED - self.tell()
        if room > 0:
            super().write(text[:room])
        return len(text)


def _call(source: str, data: dict[str, Any], ctx: NodeContext | None = None) -> Any:
    main = _load_main(source)
    out, err = _Capped(), _Capped()
    try:
        # Code actors run one call at a time (concurrency=1), so the process's stdout and
        # stderr are this call's while it runs: what it prints reaches the execution's log.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(data)
    except StepFailed:
        raise
    except (Exception, SystemExit) as exc:  # sys.exit() in the code fails the step
        frames = traceback.extract_tb(exc.__traceback__)
        user = [f for f in frames if f.filename == "<code node>"]
        where = f" (line {user[-1].lineno})" if user else ""
        raise StepFailed(
            f"{type(exc).__name__}: {exc}{where}", category=ErrorCategory.NODE_ERROR
        ) from None
    finally:
        if ctx is not None:
            ctx.log_text("info", out.getvalue(), "stdout")
            ctx.log_text("warn", err.getvalue(), "stderr")


@node_type(
    "code",
    parameters=CodeParams,
    family="code",
    isolated=True,
    pool=PoolConfig(min_size=1, max_size=4, concurrency=1),
)
def run_code(params: CodeParams, ctx: NodeContext) -> Any:
    """Run ``main(input)`` from ``source``; its return value is the output."""
    # Blocking: the node actor runs it in its own call thread, with no event loop in between
    # (CPU-bound code holds the GIL anyway: code actors take one call at a time and are
    # replaced when a call times out).
    return _call(params.source, params.input, ctx)

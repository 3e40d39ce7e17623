"""The ``shell`` node: run a program from an argv list (never through a shell)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.errors import ErrorCategory, StepFailed
from hub.expressions import format_value
from hub.nodes._context import NodeContext
from hub.nodes._registry import PoolConfig, node_type

MAX_CAPTURE = 1_000_000
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


class ShellParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    argv: list[str] = Field(min_length=1)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=60.0, gt=0, le=86400)
    stdin: str | None = None
    fail_on_exit_code: bool = True

    @field_validator("argv", mode="before")
    @classmethod
    def _scalars_as_text(cls, value: Any) -> Any:
        # "{{ $calc.count }}" keeps its type (an int); a program argument is text either way.
        if isinstance(value, list):
            return [v if isinstance(v, str | list | dict) else format_value(v) for v in value]
        return value


def _decode(data: bytes) -> str:
    text = data[:MAX_CAPTURE].decode("utf-8", errors="replace")
    return text + ("\n[truncated]" if len(data) > MAX_CAPTURE else "")


@node_type("shell", parameters=ShellParams, family="shell", pool=PoolConfig(max_size=2))
async def run_shell(params: ShellParams, ctx: NodeContext) -> Any:
    """Run ``argv``; output exit code, stdout and stderr."""
    # Only a few variables pass through, so a workflow never sees the runtime's secrets.
    env = {k: os.environ[k] for k in _INHERITED_ENV if k in os.environ} | params.env
    try:
        proc = await asyncio.create_subprocess_exec(
            *params.argv,
            cwd=params.cwd,
            env=env,
            stdin=asyncio.subprocess.PIPE
            if params.stdin is not None
            else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise StepFailed(
            f"cannot run {params.argv[0]!r}: {exc.strerror}", category=ErrorCategory.VALIDATION
        ) from None
    stdin = params.stdin.encode() if params.stdin is not None else None
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(stdin), params.timeout_s)
    except (TimeoutError, asyncio.CancelledError) as exc:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise StepFailed(
            f"{params.argv[0]} timed out after {params.timeout_s:g}s and was killed",
            category=ErrorCategory.TIMEOUT,
            retryable=True,
        ) from None
    err_text = _decode(stderr)
    ctx.log_text("warn", err_text, "stderr")  # the live log shows what the program complained
    output = {"exit_code": proc.returncode, "stdout": _decode(stdout), "stderr": err_text}
    if params.fail_on_exit_code and proc.returncode != 0:
        last = err_text.strip().splitlines()[-1:] or [""]
        raise StepFailed(
            f"{params.argv[0]} exited with code {proc.returncode}: {last[0]}".rstrip(": "),
            category=ErrorCategory.NODE_ERROR,
            details={"output": output},
        )
    return output

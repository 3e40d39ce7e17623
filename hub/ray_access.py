"""How an operator reaches the runtime with Ray's own tools: the dashboard's sign-in, and the
environment Ray's CLI (``ray status``, ``ray list actors``, ``serve status``) needs.

Ray 2.60 runs clusters it starts with token authentication (hub/_ray_env.py): the dashboard
asks for the token and the CLI sends it only when ``RAY_AUTH_MODE=token``. The token itself is
never printed here, since logs keep what ``hub up`` prints: the operator is told where it is
and that ``ray get-auth-token`` prints it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENV_LINE = 'eval "$(hub env)"'
CLI_EXAMPLES = "ray status, ray list actors, serve status"


def token_mode(environ: Mapping[str, str] | None = None) -> bool:
    """Whether Ray's processes use token authentication (the runtime's default)."""
    env = os.environ if environ is None else environ
    return env.get("RAY_AUTH_MODE", "token") == "token"


def token_location(environ: Mapping[str, str] | None = None) -> str:
    """Where this machine's Ray token is: the variable or the file Ray reads it from."""
    env = os.environ if environ is None else environ
    if env.get("RAY_AUTH_TOKEN"):
        return "the RAY_AUTH_TOKEN variable"
    return env.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")


def shell_exports(
    info: Any, home: Path, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables that point Ray's CLI and ``hub`` at the runtime ``info`` describes
    (a hub.runtime.RuntimeInfo): the GCS address (``ray status``, ``ray list``), the
    dashboard's address (``serve status``, ``ray job``), the auth mode, the runtime's home."""
    env = os.environ if environ is None else environ
    exports = {"RAY_ADDRESS": str(info.address)}
    if info.dashboard_url:
        exports["RAY_DASHBOARD_ADDRESS"] = str(info.dashboard_url)
    exports["RAY_AUTH_MODE"] = env.get("RAY_AUTH_MODE", "token")
    if env.get("RAY_AUTH_TOKEN_PATH"):
        exports["RAY_AUTH_TOKEN_PATH"] = env["RAY_AUTH_TOKEN_PATH"]
    exports["HUB_HOME"] = str(home)
    return exports


def render_exports(exports: Mapping[str, str]) -> str:
    """POSIX shell ``export`` lines, values quoted, for ``eval "$(hub env)"``."""
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in exports.items())


def sign_in_hint(environ: Mapping[str, str] | None = None) -> str:
    """What the dashboard's sign-in page wants, and where to get it (never the token)."""
    if not token_mode(environ):
        return "no sign-in (RAY_AUTH_MODE is not token)"
    return f"sign in with the Ray token: `ray get-auth-token` prints it ({token_location(environ)})"


def cli_hint() -> str:
    return f"{ENV_LINE}  then: {CLI_EXAMPLES}"


__all__ = [
    "CLI_EXAMPLES",
    "ENV_LINE",
    "cli_hint",
    "render_exports",
    "shell_exports",
    "sign_in_hint",
    "token_location",
    "token_mode",
]

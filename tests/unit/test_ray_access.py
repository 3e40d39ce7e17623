"""What `hub env`, `hub up` and `hub status` tell an operator about Ray's tools, without a
runtime: the exports survive a real shell's eval, and the sign-in hint names the token's place
and never its value."""

from __future__ import annotations

import shlex
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from hub.ray_access import render_exports, shell_exports, sign_in_hint
from hub.runtime import RuntimeInfo


def info(home: Path, dashboard: str | None = "http://127.0.0.1:8265") -> RuntimeInfo:
    return RuntimeInfo(
        address="127.0.0.1:6380",
        dashboard_url=dashboard,
        pid=1,
        database_url="sqlite:///x",
        home=str(home),
        started_at=datetime.now(UTC),
    )


def test_exports_survive_a_shells_eval(tmp_path: Path) -> None:
    home = tmp_path / "it's a home; $(touch pwned)"
    exports = shell_exports(info(home), home, environ={"RAY_AUTH_TOKEN_PATH": "/t/tok en"})
    script = render_exports(exports) + 'printf "%s\\n" "$RAY_ADDRESS" "$HUB_HOME" '
    script += '"$RAY_AUTH_MODE" "$RAY_DASHBOARD_ADDRESS" "$RAY_AUTH_TOKEN_PATH"'
    out = subprocess.run(
        ["bash", "-c", f"eval {shlex.quote(script)}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
        check=True,
    ).stdout.splitlines()
    assert out == ["127.0.0.1:6380", str(home), "token", "http://127.0.0.1:8265", "/t/tok en"]
    assert not (tmp_path / "pwned").exists()


def test_a_runtime_without_dashboard_exports_no_dashboard_address(tmp_path: Path) -> None:
    exports = shell_exports(info(tmp_path, dashboard=None), tmp_path, environ={})
    assert set(exports) == {"RAY_ADDRESS", "RAY_AUTH_MODE", "HUB_HOME"}


def test_sign_in_hint_names_the_token_file_or_variable_never_the_token() -> None:
    by_file = sign_in_hint({"RAY_AUTH_TOKEN_PATH": "/etc/ray/token"})
    assert "ray get-auth-token" in by_file and "/etc/ray/token" in by_file
    by_variable = sign_in_hint({"RAY_AUTH_TOKEN": "s3cret-value"})
    assert "RAY_AUTH_TOKEN variable" in by_variable and "s3cret-value" not in by_variable
    assert "no sign-in" in sign_in_hint({"RAY_AUTH_MODE": "disabled"})

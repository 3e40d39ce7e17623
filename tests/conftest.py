"""Shared fixtures. Integration tests share ONE runtime per test session: a real Ray head started
by ``hub up`` (so the CLI, the notebook and the tests all join the same cluster), torn down by
``hub down`` at the end."""

from __future__ import annotations

# Before any test module imports Ray (Ray reads RAY_AUTH_MODE once, at its first import):
# the same token mode as the runtime's processes.
from hub import _ray_env  # noqa: F401

# isort: split
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from hub._processes import free_port

# Under CI=true a skip fails the run, unless what it lacks cannot exist here (a GPU).
from tests.prerequisites import pytest_runtest_makereport as pytest_runtest_makereport

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "tests" / "fixtures" / "plugins"
HUB = str(Path(sys.executable).with_name("hub"))

# The test node plugin must be importable here (compiling needs its type) and in every Ray
# worker (which inherit this environment through `hub up`).
sys.path.insert(0, str(PLUGINS))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(PLUGINS), str(ROOT), os.environ.get("PYTHONPATH")) if p
)


@pytest.fixture(scope="session")
def hub_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hub-home")
    os.environ["HUB_HOME"] = str(home)
    os.environ.pop("HUB_DATABASE_URL", None)
    return home


@pytest.fixture(scope="session")
def x_display() -> Iterator[str | None]:
    """A virtual X display (Xvfb) for the session, or None where Xvfb is not installed: the
    runtime then has no desktop, and the desktop tests skip, saying so (under CI=true they fail:
    the test command installs Xvfb)."""
    import shutil

    if shutil.which("Xvfb") is None:
        yield None
        return
    from tests.e2e.xvfb import running_xvfb

    with running_xvfb() as display:
        yield display


@pytest.fixture(scope="session")
def runtime_env(hub_home: Path, x_display: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if x_display is not None:  # the runtime's DesktopActor drives this display
        env.update(DISPLAY=x_display, HUB_ENABLE_DESKTOP="1")
    env.update(
        HUB_HOME=str(hub_home),
        HUB_ENABLE_CODE_NODES="1",
        HUB_ENABLE_SHELL_NODES="1",
        HUB_MAX_EXECUTION_ACTORS="4",
        HUB_WARM_EXECUTION_ACTORS="2",
        # HUB_HOME is listed on purpose: the runtime drops it (hub.settings, never exposed).
        HUB_ENV_ALLOWLIST="RUNTIME_TEST_VISIBLE,HUB_HOME",
        RUNTIME_TEST_VISIBLE="visible-value",
        RUNTIME_TEST_HIDDEN="hidden-value",
    )
    return env


@pytest.fixture(scope="session")
def runtime(runtime_env: dict[str, str], hub_home: Path) -> Iterator[Any]:
    """A client connected to the session's runtime."""
    desktop = ["--desktop"] if "DISPLAY" in runtime_env else []
    ports = [
        "--port",
        str(free_port()),
        "--dashboard-port",
        str(free_port()),
        "--api-port",
        str(free_port()),
    ]
    up = subprocess.run(
        [HUB, "up", *ports, "--json", *desktop],
        env=runtime_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert up.returncode == 0, f"hub up failed:\n{up.stdout}\n{up.stderr}"
    info = json.loads(up.stdout)
    assert info["database_url"].startswith("sqlite:///")
    import hub

    try:
        client = hub.connect(home=hub_home)
        assert not client.embedded
        yield client
        client.close()
    finally:  # never leave the runtime behind, even when connecting failed
        down = subprocess.run(
            [HUB, "down"], env=runtime_env, capture_output=True, text=True, timeout=120
        )
    assert down.returncode == 0, down.stderr


@pytest.fixture(scope="session")
def api_url(runtime: Any) -> str:
    """The base URL of the runtime's HTTP API (``.../api/v1``)."""
    return str(runtime.api_url)


@pytest.fixture(scope="session")
def api_token(runtime: Any, hub_home: Path) -> str:
    return (hub_home / "api.token").read_text().strip()


@pytest.fixture
def api(api_url: str, api_token: str) -> Iterator[Any]:
    """An httpx client for the API, authorised with the runtime's token."""
    import httpx

    with httpx.Client(
        base_url=api_url, headers={"Authorization": f"Bearer {api_token}"}, timeout=60
    ) as client:
        yield client


def run_node(node_type: str, **parameters: Any) -> Any:
    """One attempt of an action node in this process (hub.nodes.run_here): its output, or the
    StepFailed it raised."""
    from hub.nodes import run_here

    return run_here(node_type, parameters).output


def run_cli(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=timeout)


# --- a real HTTP server on loopback -----------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _TestServer

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.requests.append({"path": url.path, "headers": dict(self.headers)})
        if url.path.startswith("/users/"):
            user_id = int(url.path.rsplit("/", 1)[1])
            self._send(200, {"id": user_id, "name": f"user{user_id}", "age": 17 + user_id})
        elif url.path == "/flaky":
            key, fails = query["key"], int(query.get("fails", "2"))
            count = self.server.counts[key] = self.server.counts.get(key, 0) + 1
            self._send(500 if count <= fails else 200, {"attempt": count})
        elif url.path == "/status":
            self._send(int(query["code"]), {"code": int(query["code"])})
        elif url.path == "/slow":
            time.sleep(float(query.get("s", "2")))
            self._send(200, {"slow": True})
        elif url.path == "/headers":
            self._send(200, {"headers": dict(self.headers)})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"null")
        self._send(201, {"received": body})


class _TestServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="session")
def http_server() -> Iterator[_TestServer]:
    server = _TestServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()

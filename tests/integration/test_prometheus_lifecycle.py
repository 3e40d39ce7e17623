"""A Prometheus of `hub metrics prometheus` across a restart of the runtime, on a runtime of its
own (its own HUB_HOME and ports): the next `hub up` hands it to the dashboard as
RAY_PROMETHEUS_HOST (the dashboard's Metrics page then finds it, on a port that is not Ray's
default) and points it at the new Ray session's nodes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub import prometheus
from hub._processes import port_free
from tests.conftest import free_port
from tests.prerequisites import require_tools

pytestmark = pytest.mark.ray

BIN = str(Path(sys.executable).parent)


@pytest.fixture()
def home_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = dict(os.environ)
    env.update(HUB_HOME=str(tmp_path / "home"), PATH=BIN + os.pathsep + env.get("PATH", ""))
    env.pop("HUB_DATABASE_URL", None)
    try:
        yield env
    finally:  # never leave the runtime or Prometheus behind
        hub(env, "metrics", "prometheus", "--stop")
        hub(env, "down")


def hub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(BIN) / "hub"), *args], env=env, capture_output=True, text=True, timeout=300
    )


def up(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    ports = ["--port", str(free_port()), "--dashboard-port", str(free_port())]
    started = hub(env, "up", *ports, "--api-port", str(free_port()), *extra)
    assert started.returncode == 0, started.stdout + started.stderr
    return started


def targets(url: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{url}/api/v1/targets", timeout=10).json()
    return list(body["data"]["activeTargets"])


@pytest.mark.timeout(600)
def test_the_next_hub_up_hands_prometheus_to_the_dashboard_and_the_new_session(
    home_env: dict[str, str],
) -> None:
    require_tools("prometheus", install=prometheus.INSTALL)
    home = Path(home_env["HUB_HOME"])
    first = json.loads(up(home_env, "--json").stdout)
    port = free_port()
    started = hub(
        home_env, "metrics", "prometheus", "--port", str(port), "--scrape-interval-s", "1"
    )
    assert started.returncode == 0, started.stdout + started.stderr
    url = f"http://127.0.0.1:{port}"
    assert f"prometheus at {url}" in started.stdout
    if port_free(prometheus.DEFAULT_PORT):  # nothing where Ray looks by default (:9090)
        # Started before it, the dashboard looks elsewhere, and the command says so.
        assert not prometheus.dashboard_reaches_prometheus(first["dashboard_url"])
        assert "hub down && hub up" in started.stdout

    assert hub(home_env, "down").returncode == 0
    again = up(home_env)  # as an operator reads it
    second = json.loads((home / "runtime.json").read_text())
    assert second["session_dir"] != first["session_dir"]
    assert f"prometheus  : {url}" in again.stdout
    assert "ray get-auth-token" in again.stdout
    assert 'eval "$(hub env)"' in again.stdout

    # The dashboard was started with RAY_PROMETHEUS_HOST: its Metrics page finds this one.
    assert prometheus.dashboard_reaches_prometheus(second["dashboard_url"])
    # Prometheus follows the new session: its targets come from the new discovery file.
    expected = str(prometheus.discovery_file(second["session_dir"]))
    deadline = time.monotonic() + 90
    while True:
        found = targets(url)
        files = {t["discoveredLabels"].get("__meta_filepath") for t in found}
        healthy = [t for t in found if t["health"] == "up"]
        if found and files == {expected} and healthy:
            break
        assert time.monotonic() < deadline, f"targets still {found}"
        time.sleep(1)

"""Ray's own tools on the session's runtime, used as an operator would after `hub up`: Ray's CLI
through `eval "$(hub env)"`, the dashboard's sign-in hint (never the token itself), and a real
Prometheus (`hub metrics prometheus`) that scrapes every node and answers PromQL."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hub
from hub import ExecutionStatus, prometheus
from hub.grafana import RATE, panels
from serve import APP_NAME
from tests.conftest import free_port
from tests.metrics_text import fetch, node_endpoints, parse
from tests.prerequisites import require_tools

pytestmark = pytest.mark.ray

BIN = str(Path(sys.executable).parent)
# What a new shell has: no Ray variables of this test process (conftest sets RAY_AUTH_MODE).
RAY_VARIABLES = ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_DASHBOARD_ADDRESS", "RAY_API_SERVER_ADDRESS")


@pytest.fixture()
def shell_env(runtime: Any, runtime_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in runtime_env.items() if k not in RAY_VARIABLES}
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    return env


def sh(env: dict[str, str], script: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=timeout
    )


def ray_token() -> str:
    return (Path.home() / ".ray" / "auth_token").read_text().strip()


def test_eval_hub_env_makes_rays_cli_work(shell_env: dict[str, str], hub_home: Path) -> None:
    exports = sh(shell_env, "hub env")
    assert exports.returncode == 0, exports.stderr
    assert "export RAY_AUTH_MODE=token" in exports.stdout
    assert f"export HUB_HOME={hub_home}" in exports.stdout

    status = sh(shell_env, 'eval "$(hub env)" && ray status')
    assert status.returncode == 0, status.stdout + status.stderr
    assert "Node status" in status.stdout
    assert "Active:" in status.stdout

    actors = sh(shell_env, 'eval "$(hub env)" && ray list actors --format json --limit 1000')
    assert actors.returncode == 0, actors.stdout + actors.stderr
    names = {a["name"] for a in json.loads(actors.stdout) if a["state"] == "ALIVE"}
    assert {"supervisor", "recorder", "triggers"} <= names, names

    serve = sh(shell_env, 'eval "$(hub env)" && serve status')
    assert serve.returncode == 0, serve.stdout + serve.stderr
    assert f"{APP_NAME}:" in serve.stdout
    assert "status: RUNNING" in serve.stdout


def test_status_says_how_to_sign_in_without_printing_the_token(
    shell_env: dict[str, str],
) -> None:
    status = sh(shell_env, "hub status")
    assert status.returncode == 0, status.stderr
    assert "ray get-auth-token" in status.stdout
    assert str(Path.home() / ".ray" / "auth_token") in status.stdout
    assert 'eval "$(hub env)"' in status.stdout
    as_json = json.loads(sh(shell_env, "hub status --json").stdout)
    assert as_json["ray_env"]["RAY_AUTH_MODE"] == "token"
    for text in (status.stdout, json.dumps(as_json), sh(shell_env, "hub env").stdout):
        assert ray_token() not in text


# --- Prometheus -------------------------------------------------------------------------------


SCRAPE_INTERVAL_S = 5


@pytest.fixture()
def running_prometheus(shell_env: dict[str, str], hub_home: Path) -> Iterator[Any]:
    require_tools("prometheus", install=prometheus.INSTALL)
    port = free_port()
    # Not faster: Prometheus gives a scrape at most its interval, and this session's node serves
    # megabytes of series by now (docs/metrics.md); a 1 s scrape timed out on a busy machine.
    started = sh(
        shell_env,
        f"hub metrics prometheus --port {port} --scrape-interval-s {SCRAPE_INTERVAL_S} --json",
    )
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield prometheus.PrometheusInfo.model_validate_json(started.stdout)
    finally:
        stopped = sh(shell_env, "hub metrics prometheus --stop")
        assert stopped.returncode == 0, stopped.stderr
    assert prometheus.read(hub_home) is None


def query_until(url: str, promql: str, least: float, timeout_s: float = 150) -> float:
    """Query until the result's value reaches ``least``; answer the last value seen."""
    deadline = time.monotonic() + timeout_s
    value = 0.0
    while time.monotonic() < deadline:
        result = prometheus.query(url, promql)
        value = float(result[0]["value"][1]) if result else 0.0
        if value >= least:
            break
        time.sleep(1)
    return value


def scrape_report(url: str) -> str:
    """What Prometheus scrapes and how each scrape went, for a failure's message."""
    targets = json.loads(fetch(f"{url}/api/v1/targets"))["data"]["activeTargets"]
    lines = []
    for target in targets:
        hub_series = "?"
        with contextlib.suppress(OSError):
            hub_series = str(len(parse(fetch(target["scrapeUrl"]))))
        lines.append(
            f"{target['scrapeUrl']} {target['health']} {target.get('lastError')!r}"
            f" took {target.get('lastScrapeDuration')} s of {target.get('scrapeTimeout')},"
            f" ray_hub_ lines: {hub_series}"
        )
    return "targets:\n" + "\n".join(lines)


@pytest.mark.timeout(400)
def test_prometheus_scrapes_the_runtimes_metrics(
    runtime: hub.Client, running_prometheus: Any, hub_home: Path
) -> None:
    url = running_prometheus.url
    # Ray's service discovery lists this runtime's nodes; each node's endpoint is scraped (the
    # dashboard's and the autoscaler's own endpoints are listed too, and do not count).
    nodes = node_endpoints()
    assert nodes, "no alive node has a metrics export port"
    up = f'sum(up{{job="ray",instance=~"{"|".join(nodes)}"}})'
    assert query_until(url, up, len(nodes), timeout_s=90) == len(nodes), scrape_report(url)
    doc = {
        "id": f"prom-{uuid.uuid4().hex[:10]}",
        "nodes": [{"id": "a", "type": "set", "parameters": {"values": {"n": 1}}}],
    }
    # Counted as a total: Ray's metrics agent keeps at most 2,000 label sets a metric
    # (OpenTelemetry's limit) and folds later ones into one overflow series, and this session's
    # runtime has run more workflows than that by now (docs/metrics.md).
    before = query_until(url, "sum(ray_hub_executions_total)", 0)
    runs = 3
    for _ in range(runs):
        assert runtime.run(doc).status == ExecutionStatus.COMPLETED
    total = query_until(url, "sum(ray_hub_executions_total)", before + runs)
    assert total >= before + runs, scrape_report(url)

    # Every Grafana panel's query runs on the real Prometheus.
    for panel in panels():
        for q in panel.queries:
            prometheus.query(url, q.expr.replace(RATE, "1m"))
    # Step durations come from the ExecutionActors, each exporting on its own clock (Ray's
    # metrics report interval): they may reach Prometheus after the supervisor's count.
    steps = 'sum by (node_type) (ray_hub_step_duration_seconds_count{node_type="set"})'
    assert query_until(url, steps, runs) >= runs

    # A runtime started now would hand this Prometheus to its dashboard, unless told otherwise.
    assert prometheus.dashboard_env(hub_home, environ={}) == {"RAY_PROMETHEUS_HOST": url}
    assert prometheus.dashboard_env(hub_home, environ={"RAY_PROMETHEUS_HOST": "x"}) == {}

"""A Prometheus for the runtime's metrics (``hub metrics prometheus``): Debian's ``prometheus``
(``apt-get install prometheus``), started in a session of its own, scraping every Ray node
through the service-discovery file Ray's head writes in its session directory.

It outlives the runtime on purpose: its history spans ``hub down`` and ``hub up``. Its state
is ``HUB_HOME/prometheus/``: the config, the TSDB (``data/``) and ``prometheus.json`` (pid and
address). ``hub up`` points a running one at the new Ray session (rewrites the config and sends
SIGHUP, Prometheus's reload) and passes its address to the dashboard as ``RAY_PROMETHEUS_HOST``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hub._processes import alive, port_free, terminate_session
from hub.errors import RuntimeUnavailable

DEFAULT_PORT = 9090
DEFAULT_SCRAPE_INTERVAL_S = 10.0  # as Ray's generated prometheus.yml, and its report interval
DISCOVERY_FILE = "prom_metrics_service_discovery.json"  # ray._private.ray_constants
INSTALL = "apt-get install prometheus (or: HUB_PROMETHEUS=1 bash .ci/setup.sh, as root)"


class PrometheusInfo(BaseModel):
    pid: int
    url: str
    discovery_file: str
    scrape_interval_s: float


def state_dir(home: Path) -> Path:
    return home / "prometheus"


def _state_file(home: Path) -> Path:
    return state_dir(home) / "prometheus.json"


def discovery_file(session_dir: str) -> Path:
    """The file Ray's head keeps listing every alive node's metrics endpoint in."""
    return Path(session_dir) / DISCOVERY_FILE


def config_text(discovery: Path, scrape_interval_s: float) -> str:
    """prometheus.yml: one job, ``ray``, whose targets are Ray's service-discovery file."""
    return (
        "# Written by `hub metrics prometheus` (hub/prometheus.py); rewritten by `hub up`.\n"
        "global:\n"
        f"  scrape_interval: {scrape_interval_s:g}s\n"
        f"  evaluation_interval: {scrape_interval_s:g}s\n"
        "scrape_configs:\n"
        "  - job_name: ray\n"
        "    file_sd_configs:\n"
        f"      - files: ['{discovery}']\n"
    )


def read(home: Path) -> PrometheusInfo | None:
    """The Prometheus this home started, if it still runs (a stale record is removed)."""
    path = _state_file(home)
    if not path.exists():
        return None
    info = PrometheusInfo.model_validate_json(path.read_text())
    if not alive(info.pid) or not _is_prometheus(info.pid):
        path.unlink(missing_ok=True)
        return None
    return info


def _is_prometheus(pid: int) -> bool:
    """Whether ``pid`` still is a Prometheus (not another process that got its number)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc to ask: trust the record
    return b"prometheus" in command.split(b"\0", 1)[0]


def binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise RuntimeUnavailable(f"prometheus is not installed ({INSTALL})")
    return found


def start(
    home: Path,
    session_dir: str,
    *,
    port: int = DEFAULT_PORT,
    scrape_interval_s: float = DEFAULT_SCRAPE_INTERVAL_S,
    timeout_s: float = 60,
) -> PrometheusInfo:
    """Start Prometheus on 127.0.0.1:``port`` scraping the Ray session ``session_dir``; one
    already running for this home is pointed at that session instead."""
    running = read(home)
    if running is not None:
        return repoint(home, running, session_dir, scrape_interval_s)
    program = binary()
    if not port_free(port):
        raise RuntimeUnavailable(f"the port {port} is in use; choose another with --port")
    folder = state_dir(home)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(config_text(discovery_file(session_dir), scrape_interval_s))
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    with open(logs / "prometheus.log", "ab") as log:
        proc = subprocess.Popen(
            [
                program,
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _wait_ready(url, proc, timeout_s, logs / "prometheus.log")
    info = PrometheusInfo(
        pid=proc.pid,
        url=url,
        discovery_file=str(discovery_file(session_dir)),
        scrape_interval_s=scrape_interval_s,
    )
    _state_file(home).write_text(info.model_dump_json(indent=2))
    return info


def repoint(
    home: Path, info: PrometheusInfo, session_dir: str, scrape_interval_s: float | None = None
) -> PrometheusInfo:
    """Point a running Prometheus at another Ray session: new config, then SIGHUP (reload)."""
    interval = info.scrape_interval_s if scrape_interval_s is None else scrape_interval_s
    updated = info.model_copy(
        update={
            "discovery_file": str(discovery_file(session_dir)),
            "scrape_interval_s": interval,
        }
    )
    if updated != info:
        config = state_dir(home) / "prometheus.yml"
        config.write_text(config_text(discovery_file(session_dir), interval))
        os.kill(info.pid, signal.SIGHUP)
        _state_file(home).write_text(updated.model_dump_json(indent=2))
    return updated


def stop(home: Path) -> PrometheusInfo | None:
    """Stop the Prometheus this home started; its data stays in HUB_HOME/prometheus/data."""
    info = read(home)
    if info is not None:
        terminate_session(info.pid, grace_s=10)
    _state_file(home).unlink(missing_ok=True)
    return info


def dashboard_env(home: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What ``hub up`` adds to the Ray head's environment: the running Prometheus's address
    as ``RAY_PROMETHEUS_HOST``, unless the operator chose one."""
    env = os.environ if environ is None else environ
    info = read(home)
    if info is None or env.get("RAY_PROMETHEUS_HOST"):
        return {}
    return {"RAY_PROMETHEUS_HOST": info.url}


def query(url: str, promql: str, timeout_s: float = 10) -> list[dict[str, Any]]:
    """An instant query through Prometheus's HTTP API: its result vector."""
    import httpx

    response = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=timeout_s)
    body = response.json()
    if response.status_code != 200 or body.get("status") != "success":
        raise RuntimeUnavailable(f"Prometheus refused {promql!r}: {body.get('error', body)}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def dashboard_reaches_prometheus(dashboard_url: str, timeout_s: float = 15) -> bool:
    """Whether the Ray dashboard's Metrics page finds a Prometheus (its own health check,
    signed in with this machine's Ray token when token authentication is on)."""
    import httpx

    from hub import _ray_env  # noqa: F401  (token mode, before Ray is imported)

    try:
        from ray._private.authentication.http_token_authentication import (
            get_auth_headers_if_auth_enabled,
        )

        headers = get_auth_headers_if_auth_enabled({})
    except ImportError:  # a Ray without token authentication
        headers = {}
    try:
        response = httpx.get(
            f"{dashboard_url}/api/prometheus_health", headers=headers, timeout=timeout_s
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise RuntimeUnavailable(f"prometheus exited with code {proc.returncode}; see {log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            terminate_session(proc.pid)
            raise RuntimeUnavailable(f"prometheus did not get ready in {timeout_s:g}s; see {log}")
        time.sleep(0.3)


__all__ = [
    "DEFAULT_PORT",
    "PrometheusInfo",
    "config_text",
    "dashboard_env",
    "dashboard_reaches_prometheus",
    "discovery_file",
    "query",
    "read",
    "repoint",
    "start",
    "stop",
]

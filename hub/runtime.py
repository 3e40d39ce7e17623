"""Where the runtime lives: start a background runtime (``hub up``), stop it, or attach.

All Ray cluster calls of the client side are made here; Ray failures become RuntimeUnavailable.
A background runtime is a Ray head started with ``ray start --block`` in its own session, plus
the detached supervisor; ``HUB_HOME/runtime.json`` says how to reach it. Without one, clients
start an embedded Ray for the life of their process, with history in the same store.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from hub.api_deploy import Ingress, deploy_api, ingress_from_env, ray_env
from hub.errors import RuntimeUnavailable
from hub.records import utcnow
from hub.settings import RuntimeSettings, hub_home, settings_from_env
from hub.store import database_url_from_env

NAMESPACE = "runtime-hub"
SUPERVISOR_NAME = "supervisor"
RECORDER_NAME = "recorder"


class RuntimeInfo(BaseModel):
    address: str
    dashboard_url: str | None
    api_url: str | None = None
    pid: int
    database_url: str
    home: str
    started_at: datetime


def runtime_file(home: Path) -> Path:
    return home / "runtime.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # An exited process whose parent is gone may linger as a zombie where nothing reaps it.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def read_runtime(home: Path | None = None) -> RuntimeInfo | None:
    """The background runtime of ``home``, or None (a stale file is removed)."""
    path = runtime_file(home or hub_home())
    if not path.exists():
        return None
    info = RuntimeInfo.model_validate_json(path.read_text())
    if not _alive(info.pid):
        path.unlink(missing_ok=True)
        return None
    return info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Connection:
    supervisor: Any
    recorder: Any
    embedded: bool
    dashboard_url: str | None
    database_url: str
    api_url: str | None = None


def _ray() -> Any:
    import ray  # imported late: `hub validate`, `hub ls` never pay for it

    return ray


def _create_supervisor(database_url: str, settings: RuntimeSettings, home: Path) -> tuple[Any, Any]:
    from actors.supervisor import SupervisorActor
    from hub.sealing import load_or_create_key

    ray = _ray()
    supervisor = SupervisorActor.options(  # type: ignore[attr-defined]
        name=SUPERVISOR_NAME,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        max_concurrency=10_000,
    ).remote(database_url, settings, NAMESPACE, RECORDER_NAME, load_or_create_key(home))
    ray.get(supervisor.ping.remote(), timeout=120)
    recorder = ray.get_actor(RECORDER_NAME, namespace=NAMESPACE)
    ray.get(recorder.ping.remote(), timeout=120)
    return supervisor, recorder


def attach(
    address: str | None = None, *, home: Path | None = None, serve_api: bool = False
) -> Connection:
    """Join the runtime at ``address``, the background runtime of ``home``, or start an
    embedded one in this process (with ``serve_api``, serving the HTTP API too, on port 8000
    or, when that is taken, a free one)."""
    ray = _ray()
    home = home or hub_home()
    info = read_runtime(home) if address is None else None
    database_url = info.database_url if info else database_url_from_env(home)
    target = address or (info.address if info else None)
    dashboard = info.dashboard_url if info else None
    api_port: int | None = None
    ingress: Ingress = "proxy"  # a Ray started before now has no direct-ingress settings
    try:
        if serve_api and target is None:
            api_port = 8000 if _port_free(8000) else free_port()
            if not ray.is_initialized():
                ingress = ingress_from_env()
                # The embedded Ray's processes inherit this process's environment.
                for key, value in ray_env(ingress, api_port).items():
                    os.environ.setdefault(key, value)
        if ray.is_initialized():
            pass
        elif target is not None:
            ray.init(
                address=target, namespace=NAMESPACE, log_to_driver=False, logging_level="WARNING"
            )
        else:
            context = ray.init(
                address="local",  # a new cluster, even when another runs on this machine
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level="WARNING",
                include_dashboard=True,
                dashboard_host="127.0.0.1",
                dashboard_port=_embedded_dashboard_port(),
                # an embedded runtime on a machine with a display may drive it
                resources={"desktop": 1} if os.environ.get("DISPLAY") else None,
            )
            url = context.dashboard_url
            dashboard = (url if url.startswith("http") else f"http://{url}") if url else None
        supervisor, recorder = _create_supervisor(database_url, settings_from_env(), home)
        api_url = info.api_url if info else None
        if api_port is not None:
            deploy_api(home, "127.0.0.1", api_port, ingress)
            api_url = f"http://127.0.0.1:{api_port}/api/v1"
    except RuntimeUnavailable:
        raise
    except Exception as exc:
        where = target or "an embedded runtime"
        raise RuntimeUnavailable(f"cannot start or reach the runtime at {where}: {exc}") from exc
    return Connection(supervisor, recorder, target is None, dashboard, database_url, api_url)


def _embedded_dashboard_port() -> int:
    return 8265 if _port_free(8265) else free_port()


def start_background(
    home: Path,
    *,
    port: int = 6380,
    dashboard_port: int = 8265,
    api_host: str = "127.0.0.1",
    api_port: int = 8000,
    desktop: bool = False,
    timeout_s: float = 120,
) -> RuntimeInfo:
    """``hub up``: a Ray head on ``port`` (never Redis's 6379 by default), the supervisor and the
    Recorder, left running after this process exits."""
    existing = read_runtime(home)
    if existing is not None:
        return existing
    for name, p in (("port", port), ("dashboard port", dashboard_port), ("api port", api_port)):
        if not _port_free(p, api_host if name == "api port" else "127.0.0.1"):
            raise RuntimeUnavailable(
                f"the {name} {p} is in use; choose another with --{name.replace(' ', '-')}"
            )
    ingress = ingress_from_env()
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ray_bin = Path(sys.executable).with_name("ray")
    ensure_ray_token(str(ray_bin) if ray_bin.exists() else "ray")
    cmd = [
        str(ray_bin) if ray_bin.exists() else "ray",
        "start",
        "--head",
        "--block",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--include-dashboard=true",
        "--dashboard-host=127.0.0.1",
        f"--dashboard-port={dashboard_port}",
        f"--ray-client-server-port={free_port()}",
        f"--dashboard-agent-listen-port={free_port()}",
        "--disable-usage-stats",
    ]
    if desktop:  # this machine owns a display: the DesktopActor may live here
        cmd.append('--resources={"desktop": 1}')
    log_path = logs / "ray-head.log"
    log_start = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **ray_env(ingress, api_port)},
        )
    address = f"127.0.0.1:{port}"
    ray = _ray()
    deadline = time.monotonic() + timeout_s
    # Joining before `ray start` says the node is up can hit a raylet that is not serving yet,
    # and that failure aborts this process from inside Ray's C++ core: wait for its word.
    _wait_for_log(log_path, log_start, "Ray runtime started", proc, deadline)
    while True:
        if proc.poll() is not None:
            raise RuntimeUnavailable(
                f"ray start exited with code {proc.returncode}; see {logs / 'ray-head.log'}"
            )
        try:
            ray.init(
                address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="WARNING"
            )
            break
        except Exception as exc:
            if time.monotonic() > deadline:
                terminate_session(proc.pid)
                raise RuntimeUnavailable(
                    f"the Ray head did not come up in {timeout_s:g}s: {exc}"
                ) from exc
            time.sleep(0.5)
    database_url = database_url_from_env(home)
    try:
        _create_supervisor(database_url, settings_from_env(), home)
    except Exception as exc:
        ray.shutdown()
        terminate_session(proc.pid)
        raise RuntimeUnavailable(f"the runtime's actors did not start: {exc}") from exc
    try:
        deploy_api(home, api_host, api_port, ingress)
    except Exception as exc:
        ray.shutdown()
        terminate_session(proc.pid)
        raise RuntimeUnavailable(f"the HTTP API did not start: {exc}") from exc
    ray.shutdown()
    info = RuntimeInfo(
        address=address,
        dashboard_url=f"http://127.0.0.1:{dashboard_port}",
        api_url=f"http://{_url_host(api_host)}:{api_port}/api/v1",
        pid=proc.pid,
        database_url=database_url,
        home=str(home),
        started_at=utcnow(),
    )
    runtime_file(home).write_text(info.model_dump_json(indent=2))
    return info


def ensure_ray_token(ray_cli: str) -> None:
    """Token authentication needs a cluster token before `ray start`; on a new machine there is
    none yet, so make one where every local process looks (~/.ray/auth_token, mode 0600)."""
    if os.environ.get("RAY_AUTH_MODE", "token") != "token" or os.environ.get("RAY_AUTH_TOKEN"):
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if path.exists():
        return
    made = subprocess.run(
        [ray_cli, "get-auth-token", "--generate"], capture_output=True, text=True, timeout=120
    )
    if made.returncode != 0 or not path.exists():
        raise RuntimeUnavailable(
            f"could not create a Ray auth token at {path}: {made.stderr.strip()[-500:]}"
        )
    path.chmod(0o600)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def _session_members(leader: int) -> list[int]:
    """Live processes of the session ``leader`` started (the Ray head and its workers)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(entry.name)) == leader and _alive(int(entry.name)):
                    members.append(int(entry.name))
    return members


def _wait_for_log(
    path: Path, offset: int, marker: str, proc: subprocess.Popen[bytes], deadline: float
) -> None:
    while True:
        with open(path, "rb") as log:
            log.seek(offset)
            if marker.encode() in log.read():
                return
        if proc.poll() is not None:
            raise RuntimeUnavailable(f"ray start exited with code {proc.returncode}; see {path}")
        if time.monotonic() > deadline:
            terminate_session(proc.pid)
            raise RuntimeUnavailable(f"the Ray head did not come up in time; see {path}")
        time.sleep(0.2)


def terminate_session(pid: int, grace_s: float = 3) -> None:
    """Stop the Ray head started as session leader ``pid``: a polite SIGTERM to its group,
    then SIGKILL to whatever of its session is left (workers run in groups of their own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    for member in _session_members(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGKILL)


def stop_background(home: Path, *, cancel_runs: bool = False) -> RuntimeInfo | None:
    """``hub down``: suspend what runs (it resumes at the next ``hub up``; with ``cancel_runs``
    it is cancelled instead), flush the store, stop the Ray head. None if nothing ran."""
    info = read_runtime(home)
    if info is None:
        return None
    ray = _ray()
    with contextlib.suppress(Exception):
        if not ray.is_initialized():
            ray.init(
                address=info.address,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level="WARNING",
            )
        supervisor = ray.get_actor(SUPERVISOR_NAME, namespace=NAMESPACE)
        ray.get(supervisor.shutdown.remote(cancel_runs), timeout=30)
    with contextlib.suppress(Exception):
        ray.shutdown()
    terminate_session(info.pid)
    runtime_file(home).unlink(missing_ok=True)
    return info

"""Where the runtime lives: start a background runtime (``hub up``), stop it, or attach.

All Ray cluster calls of the client side are made here; Ray failures become RuntimeUnavailable.
A background runtime is a Ray head started with ``ray start --block`` in its own session, plus
the detached supervisor; ``HUB_HOME/runtime.json`` says how to reach it. Without one, clients
start an embedded Ray for the life of their process, with history in the same store.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from hub import prometheus
from hub._processes import (
    alive,
    check_reachable,
    claim_ports,
    ensure_ray_token,
    free_port,
    port_free,
    reachable,
    terminate_session,
    wait_for_log,
)
from hub.api_deploy import Ingress, deploy_api, ingress_from_env, ray_env
from hub.errors import HubError, RuntimeUnavailable
from hub.placement import is_sqlite
from hub.records import utcnow
from hub.settings import RuntimeSettings, hub_home, settings_from_env
from hub.store import database_url_from_env

NAMESPACE = "runtime-hub"
SUPERVISOR_NAME = "supervisor"
RECORDER_NAME = "recorder"
TRIGGERS_NAME = "triggers"


class RuntimeInfo(BaseModel):
    address: str
    dashboard_url: str | None
    api_url: str | None = None
    # The `ray start` process of a head ``hub up`` started; None when the runtime joined a
    # cluster that something else started (``hub up --address``): ``hub down`` leaves Ray up.
    pid: int | None
    database_url: str
    home: str
    started_at: datetime
    # Ray's session directory on the head (its metrics service-discovery file is there).
    session_dir: str | None = None


def runtime_file(home: Path) -> Path:
    return home / "runtime.json"


def read_runtime(home: Path | None = None) -> RuntimeInfo | None:
    """The background runtime of ``home``, or None (a stale file is removed)."""
    path = runtime_file(home or hub_home())
    if not path.exists():
        return None
    info = RuntimeInfo.model_validate_json(path.read_text())
    if info.pid is not None and not alive(info.pid):
        path.unlink(missing_ok=True)
        return None
    return info


@dataclass
class Connection:
    supervisor: Any
    recorder: Any
    embedded: bool
    dashboard_url: str | None
    database_url: str
    api_url: str | None = None
    # An embedded runtime's API when it is started on demand (attach(serve_api="lazy")):
    # deploys it and answers its base URL.
    start_api: Callable[[], str] | None = None


def _ray() -> Any:
    import ray  # imported late: `hub validate`, `hub ls` never pay for it

    ray_notices_to_stderr()
    return ray


def ray_notices_to_stderr() -> None:
    """Send Ray's cluster notices ("the node with node id ... has been marked dead") to stderr.

    A driver prints them to its stdout from a background thread, whatever ``log_to_driver``
    says; stdout is where ``hub ... --json`` writes its result, which must parse as it is.
    Ray has no setting for this: its module-level printer is wrapped (once), keeping the text.
    """
    from ray._private import worker

    original = getattr(worker, "print_to_stdstream", None)
    if original is None or getattr(original, "hub_to_stderr", False):
        return

    def to_stderr(data: dict[str, Any], ignore_prefix: bool) -> None:
        original({**data, "is_err": True}, ignore_prefix)

    to_stderr.hub_to_stderr = True  # type: ignore[attr-defined]
    worker.print_to_stdstream = to_stderr


def _create_supervisor(
    database_url: str, settings: RuntimeSettings, home: Path, *, triggers: bool = True
) -> tuple[Any, Any]:
    """The supervisor (and through it the Recorder), near this process's node: a SQLite store
    is a file on this machine, so the Recorder is pinned here (hub.placement)."""
    from actors._placement import actor_options
    from actors.recorder import start_recorder
    from actors.supervisor import SupervisorActor
    from hub.placement import supervisor_placement
    from hub.sealing import load_or_create_key

    ray = _ray()
    here = ray.get_runtime_context().get_node_id()
    # The Recorder first, so its process starts beside the supervisor's (which finds it).
    start_recorder(
        database_url,
        settings.retention(),
        name=RECORDER_NAME,
        namespace=NAMESPACE,
        store_node_id=here,
    )
    supervisor = SupervisorActor.options(  # type: ignore[attr-defined]
        name=SUPERVISOR_NAME,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        max_concurrency=10_000,
        **actor_options(supervisor_placement(here, on_head=_on_head(ray))),
    ).remote(
        database_url,
        settings,
        NAMESPACE,
        RECORDER_NAME,
        load_or_create_key(home),
        here,
    )
    ray.get(supervisor.ping.remote(), timeout=120)
    recorder = ray.get_actor(RECORDER_NAME, namespace=NAMESPACE)
    ray.get(recorder.ping.remote(), timeout=120)
    if triggers:
        placement = supervisor_placement(here, on_head=_on_head(ray))
        _create_triggers(placement, load_or_create_key(home))
    return supervisor, recorder


def _create_triggers(placement: Any, sealing_key: str | None) -> Any:
    """The TriggerActor, beside the supervisor. Each start of the runtime has its own start id:
    startup triggers fire once per start, even when Ray restarts the actor."""
    import uuid

    from actors._placement import actor_options
    from actors.triggers import TriggerActor

    triggers = TriggerActor.options(  # type: ignore[attr-defined]
        name=TRIGGERS_NAME,
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        max_concurrency=10_000,
        **actor_options(placement),
    ).remote(NAMESPACE, SUPERVISOR_NAME, RECORDER_NAME, uuid.uuid4().hex, sealing_key)
    return triggers  # not waited for: hub up checks it once the API is deployed


def attach(
    address: str | None = None,
    *,
    home: Path | None = None,
    serve_api: bool | Literal["lazy"] = False,
    triggers: bool = True,
) -> Connection:
    """Join the runtime at ``address``, the background runtime of ``home``, or start an
    embedded one in this process (with ``serve_api``, serving the HTTP API too, on port 8000
    or, when that is taken, a free one; ``"lazy"``: ready to, when ``Connection.start_api`` is
    called, so a short run does not wait for it).

    An embedded runtime keeps one warm ExecutionActor unless ``HUB_WARM_EXECUTION_ACTORS``
    says otherwise (more are made as runs need them): its start is on the user's clock. With
    ``triggers`` False it starts no trigger service: the stored workflows' schedules, queue
    consumers and startup triggers stay off (``hub run``'s one-shot runtime)."""
    ray = _ray()
    home = home or hub_home()
    info = read_runtime(home) if address is None else None
    database_url = info.database_url if info else database_url_from_env(home)
    target = address or (info.address if info else None)
    if info is not None and info.pid is None and address is None:
        check_reachable(info.address)  # a cluster that is gone: say so now, not in minutes
    dashboard = info.dashboard_url if info else None
    api_port: int | None = None
    ingress: Ingress = "proxy"  # a Ray started before now has no direct-ingress settings
    try:
        if serve_api and target is None:
            api_port = 8000 if port_free(8000) else free_port()
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
            dashboard = _dashboard_url(context)
        settings = settings_from_env()
        if target is None:
            settings = settings.model_copy(update=_embedded_defaults())
        with_triggers = triggers or target is not None  # a joined runtime has its own
        supervisor, recorder = _create_supervisor(
            database_url, settings, home, triggers=with_triggers
        )
        api_url = info.api_url if info else None
        start_api: Callable[[], str] | None = None
        if api_port is not None:
            start_api = functools.partial(_start_embedded_api, home, api_port, ingress)
            if serve_api != "lazy":
                api_url, start_api = start_api(), None
    except RuntimeUnavailable:
        raise
    except Exception as exc:
        where = target or "an embedded runtime"
        raise RuntimeUnavailable(f"cannot start or reach the runtime at {where}: {exc}") from exc
    return Connection(
        supervisor, recorder, target is None, dashboard, database_url, api_url, start_api
    )


EMBEDDED_WARM_ACTORS = 1


def _embedded_defaults() -> dict[str, Any]:
    """What an embedded runtime sets unlike ``hub up``, unless the environment says: one warm
    ExecutionActor, and the ``auto`` isolation mode (a workflow of control nodes runs in the
    supervisor, not in a process it would first wait for; docs/dsl.md, "Isolation modes")."""
    defaults: dict[str, Any] = {}
    if "HUB_WARM_EXECUTION_ACTORS" not in os.environ:
        defaults["warm_execution_actors"] = EMBEDDED_WARM_ACTORS
    if "HUB_DEFAULT_ISOLATION" not in os.environ:
        defaults["default_isolation"] = "auto"
    return defaults


def _start_embedded_api(home: Path, api_port: int, ingress: Ingress) -> str:
    deploy_api(home, "127.0.0.1", api_port, ingress)
    return f"http://127.0.0.1:{api_port}/api/v1"


def _dashboard_url(context: Any) -> str | None:
    """The dashboard URL of a ``ray.init`` context (Ray gives host:port, without a scheme)."""
    url: str | None = context.dashboard_url
    return (url if url.startswith("http") else f"http://{url}") if url else None


def _embedded_dashboard_port() -> int:
    return 8265 if port_free(8265) else free_port()


def start_background(
    home: Path,
    *,
    address: str | None = None,
    port: int = 6380,
    dashboard_port: int = 8265,
    api_host: str = "127.0.0.1",
    api_port: int = 8000,
    desktop: bool = False,
    timeout_s: float = 120,
) -> RuntimeInfo:
    """``hub up``: a Ray head on ``port`` (never Redis's 6379 by default), the supervisor and the
    Recorder, left running after this process exits. With ``address``, join the Ray cluster
    there instead (``ray up`` started it): the runtime's actors and API start on it, and Ray's
    processes are the cluster's, not this runtime's."""
    existing = read_runtime(home)
    if existing is not None and address is not None and address != existing.address:
        how = "started its own Ray head" if existing.pid is not None else "joined"
        raise RuntimeUnavailable(
            f"the runtime of {home} {how} at {existing.address}, not {address}: "
            "stop it first with hub down (or use another HUB_HOME)"
        )
    if existing is not None and (existing.pid is not None or address is None):
        return existing
    # Joining the same cluster again is safe: the supervisor, the Recorder and the API are
    # found, not doubled; it brings back what a head's restart lost.
    settings = settings_from_env()
    check_settings_placement(settings)
    if address is not None and desktop:
        raise RuntimeUnavailable(
            "--desktop starts a Ray node with the desktop resource; a cluster joined with "
            "--address declares its resources itself: start the display's node with "
            "`ray start ... --resources '{\"desktop\": 1}'`"
        )
    checks = []
    if address is None:  # a joined cluster's API is served on its head, perhaps not this machine
        checks = [
            ("api port", api_port, api_host),
            ("port", port, "127.0.0.1"),
            ("dashboard port", dashboard_port, "127.0.0.1"),
        ]
    for name, p, host in checks:
        if not port_free(p, host):
            raise RuntimeUnavailable(
                f"the {name} {p} is in use; choose another with --{name.replace(' ', '-')}"
            )
    ray = _ray()
    proc: subprocess.Popen[bytes] | None = None
    if address is None:
        ingress = ingress_from_env()
        proc = _start_head(home, port, dashboard_port, api_port, ingress, desktop, timeout_s)
        address = f"127.0.0.1:{port}"
        dashboard_url: str | None = f"http://127.0.0.1:{dashboard_port}"
    else:
        # The cluster's Ray processes were started without direct ingress's settings.
        ingress = "proxy"
        check_reachable(address)
        try:
            context = ray.init(
                address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="WARNING"
            )
        except Exception as exc:
            raise RuntimeUnavailable(f"cannot join the Ray cluster at {address}: {exc}") from exc
        dashboard_url = _dashboard_url(context)

    def abandon() -> None:
        if proc is None and existing is None:  # nothing of a half-made runtime stays behind
            _remove_runtime_actors(ray)
        ray.shutdown()
        if proc is not None:
            terminate_session(proc.pid)

    database_url = database_url_from_env(home)
    if proc is None and is_sqlite(database_url) and not _on_head(ray):
        ray.shutdown()
        raise RuntimeUnavailable(
            "with a SQLite store, run hub up --address on the cluster's head node: the store "
            "is a file on the machine that runs hub up, and the API and supervisor live on the "
            "head; or keep history in PostgreSQL (HUB_DATABASE_URL)"
        )
    try:
        supervisor, _ = _create_supervisor(database_url, settings, home)
    except Exception as exc:
        abandon()
        raise RuntimeUnavailable(f"the runtime's actors did not start: {exc}") from exc
    try:
        deploy_api(home, api_host, api_port, ingress)
    except Exception as exc:
        abandon()
        raise RuntimeUnavailable(f"the HTTP API did not start: {exc}") from exc
    try:  # started with the supervisor, it came up while the API was deployed
        ray.get(ray.get_actor(TRIGGERS_NAME, namespace=NAMESPACE).ping.remote(), timeout=120)
    except Exception as exc:
        abandon()
        raise RuntimeUnavailable(f"the trigger service did not start: {exc}") from exc
    try:  # the pre-warmed node pools (code, shell) too: a first step finds its process ready
        ray.get(supervisor.pools_ready.remote(), timeout=120)
    except Exception as exc:
        abandon()
        raise RuntimeUnavailable(f"the node pools did not start: {exc}") from exc
    session_dir = _session_dir()
    ray.shutdown()
    info = RuntimeInfo(
        address=address,
        dashboard_url=dashboard_url,
        api_url=f"http://{_url_host(api_host)}:{api_port}/api/v1",
        pid=proc.pid if proc is not None else None,
        database_url=database_url,
        home=str(home),
        started_at=utcnow(),
        session_dir=session_dir,
    )
    runtime_file(home).write_text(info.model_dump_json(indent=2))
    return info


def _session_dir() -> str | None:
    """The Ray session directory of the cluster this process joined (Ray has no public call)."""
    try:
        from ray._private import worker

        node: Any = worker.global_worker.node
        return str(node.get_session_dir_path())
    except Exception:
        return None


def _on_head(ray: Any) -> bool:
    """Whether this process runs on the cluster's head node."""
    from hub.placement import HEAD_RESOURCE

    here = ray.get_runtime_context().get_node_id()
    return any(n["NodeID"] == here and HEAD_RESOURCE in n.get("Resources", {}) for n in ray.nodes())


def check_settings_placement(settings: RuntimeSettings) -> None:
    """Refuse placement settings that name node types that do not exist or have no pool."""
    from hub.nodes import default_registry
    from hub.placement import check_pool_settings

    try:
        check_pool_settings(settings.node_pool_resources, default_registry())
    except HubError as exc:
        raise RuntimeUnavailable(f"{exc} (HUB_NODE_POOL_RESOURCES)") from None


def _start_head(
    home: Path,
    port: int,
    dashboard_port: int,
    api_port: int,
    ingress: Ingress,
    desktop: bool,
    timeout_s: float,
) -> subprocess.Popen[bytes]:
    """``ray start --head`` in a session of its own, and this process joined to it."""
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    claim_ports(port, dashboard_port, api_port)  # not for Ray's other servers, nor the proxy
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
        f"--metrics-export-port={free_port()}",
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
            # A Prometheus of `hub metrics prometheus` becomes the dashboard's.
            env={**os.environ, **ray_env(ingress, api_port), **prometheus.dashboard_env(home)},
        )
    address = f"127.0.0.1:{port}"
    ray = _ray()
    deadline = time.monotonic() + timeout_s
    # Joining before `ray start` says the node is up can hit a raylet that is not serving yet,
    # and that failure aborts this process from inside Ray's C++ core: wait for its word.
    wait_for_log(log_path, log_start, "Ray runtime started", proc, deadline)
    while True:
        if proc.poll() is not None:
            raise RuntimeUnavailable(
                f"ray start exited with code {proc.returncode}; see {logs / 'ray-head.log'}"
            )
        try:
            ray.init(
                address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="WARNING"
            )
            return proc
        except Exception as exc:
            if time.monotonic() > deadline:
                terminate_session(proc.pid)
                raise RuntimeUnavailable(
                    f"the Ray head did not come up in {timeout_s:g}s: {exc}"
                ) from exc
            time.sleep(0.5)


def console_url(api_url: str | None) -> str | None:
    """The web console's address (served by the API's own app under ``/ui``)."""
    return None if api_url is None else api_url.removesuffix("/api/v1") + "/ui"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


def stop_background(home: Path, *, cancel_runs: bool = False) -> RuntimeInfo | None:
    """``hub down``: suspend what runs (it resumes at the next ``hub up``; with ``cancel_runs``
    it is cancelled instead), flush the store, stop the Ray head. None if nothing ran. A
    runtime that joined a cluster (``hub up --address``) stops its actors and its API and
    leaves the cluster's Ray running."""
    info = read_runtime(home)
    if info is None:
        return None
    ray = _ray()
    if info.pid is None and not reachable(info.address):
        # The cluster it joined is gone, and the runtime with it (Ray would retry for minutes).
        runtime_file(home).unlink(missing_ok=True)
        return info
    with contextlib.suppress(Exception):
        if not ray.is_initialized():
            ray.init(
                address=info.address,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level="WARNING",
            )
    if info.pid is None and not ray.is_initialized():
        # Never act on whichever cluster Ray would pick by itself: say so, keep runtime.json.
        raise RuntimeUnavailable(
            f"cannot reach the cluster at {info.address} to stop the runtime it runs"
        )
    with contextlib.suppress(Exception):  # nothing fires while the runtime stops
        triggers = ray.get_actor(TRIGGERS_NAME, namespace=NAMESPACE)
        ray.get(triggers.shutdown.remote(), timeout=30)
        ray.kill(triggers, no_restart=True)
    with contextlib.suppress(Exception):
        supervisor = ray.get_actor(SUPERVISOR_NAME, namespace=NAMESPACE)
        ray.get(supervisor.shutdown.remote(cancel_runs), timeout=30)
    if info.pid is None:
        _remove_runtime_actors(ray)
    with contextlib.suppress(Exception):
        ray.shutdown()
    if info.pid is not None:
        terminate_session(info.pid)
    runtime_file(home).unlink(missing_ok=True)
    return info


def _remove_runtime_actors(ray: Any) -> None:
    """The runtime's detached actors and its Serve application, off a cluster it joined (the
    pools, execution and OCR actors belong to the supervisor and go with it)."""
    from serve import APP_NAME

    with contextlib.suppress(Exception):
        from ray import serve as ray_serve

        logging.getLogger("ray.serve").setLevel(logging.WARNING)
        ray_serve.delete(APP_NAME)
        # Serve's proxy holds the API port: stop Serve too, unless other applications use it.
        if not ray_serve.status().applications:
            ray_serve.shutdown()  # type: ignore[no-untyped-call]
    for name in (TRIGGERS_NAME, SUPERVISOR_NAME, RECORDER_NAME, "desktop", "breakers"):
        with contextlib.suppress(Exception):
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)

"""How the HTTP API (serve/) is put on Ray Serve by ``hub up`` and an embedded ``hub run``.

Two ingress modes (``HUB_API_INGRESS``):

- ``direct`` (the default): the API replica serves HTTP on the API port itself, with Serve's
  direct ingress. A request costs one process and no Ray call before the route runs; through
  Serve's proxy it costs two processes and a Ray call. Serve still starts its proxy, on a
  spare port of the same host that nobody needs to know.
- ``proxy``: Serve's proxy listens on the API port and forwards to the replica (Serve's usual
  way; the one ``serve deploy cluster/serve.yaml`` gives).

Direct ingress and the replica's event loop are configured through environment variables that
every Ray process of the node must see, so they are set before Ray starts (``ray_env``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

from hub.errors import RuntimeUnavailable
from hub.settings import env_flag

Ingress = Literal["direct", "proxy"]
INGRESSES: tuple[Ingress, ...] = ("direct", "proxy")


def ingress_from_env() -> Ingress:
    value = os.environ.get("HUB_API_INGRESS", "direct").strip().lower() or "direct"
    if value not in INGRESSES:
        raise RuntimeUnavailable(
            f"HUB_API_INGRESS is {value!r}; use one of: {', '.join(INGRESSES)}"
        )
    return value


def access_log_from_env() -> bool:
    """Serve's access log (a line per request in the replica's log) costs about a tenth of a
    request's time, and the audit log keeps every mutating call: off unless
    ``HUB_API_ACCESS_LOG`` turns it on."""
    return env_flag("HUB_API_ACCESS_LOG", os.environ.get("HUB_API_ACCESS_LOG", "0"))


def heartbeat_from_env() -> float | None:
    """``HUB_API_HEARTBEAT_S``: how often an idle live stream (SSE) sends a comment, for a proxy
    that drops connections idle for less than the default 15 s; None: the default."""
    value = os.environ.get("HUB_API_HEARTBEAT_S", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 300:
        raise RuntimeUnavailable(
            f"HUB_API_HEARTBEAT_S is {value!r}; use seconds, more than 0 and at most 300"
        )
    return seconds


def ray_env(ingress: Ingress, api_port: int) -> dict[str, str]:
    """What the Ray processes of the node that serves the API need in their environment."""
    env = {
        # The replica runs the app on its own event loop, with no thread hop per request.
        "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
        "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
    }
    if ingress == "direct":
        env.update(
            RAY_SERVE_ENABLE_DIRECT_INGRESS="1",
            # One replica, one port: exactly the API port ([min, max) in Serve's allocator).
            RAY_SERVE_DIRECT_INGRESS_MIN_HTTP_PORT=str(api_port),
            RAY_SERVE_DIRECT_INGRESS_MAX_HTTP_PORT=str(api_port + 1),
            # A restarted replica takes the port back at once.
            RAY_SERVE_PORT_QUARANTINE_S="0",
        )
    return env


def deploy_api(home: Path, host: str, port: int, ingress: Ingress) -> None:
    """Start Ray Serve on the head node and deploy the API application. The node's Ray
    processes must have been started with ``ray_env(ingress, port)``."""
    from ray import serve as ray_serve

    from hub._processes import free_port
    from hub.auth import load_or_create_token, token_digest
    from serve import APP_NAME
    from serve.deployment import build

    logging.getLogger("ray.serve").setLevel(logging.WARNING)  # not on the user's console
    token, _ = load_or_create_token(home)
    # Direct ingress binds the replica to the proxy's host with a port of its own (the API
    # port, per ray_env); the proxy, which Serve starts anyway, gets a spare port.
    proxy_port = free_port() if ingress == "direct" else port
    ray_serve.start(proxy_location="HeadOnly", http_options={"host": host, "port": proxy_port})
    config: dict[str, object] = {"token_sha256": token_digest(token)}
    heartbeat_s = heartbeat_from_env()
    if heartbeat_s is not None:
        config["heartbeat_s"] = heartbeat_s
    try:
        ray_serve.run(build(config), name=APP_NAME, route_prefix="/", blocking=False)
    except RuntimeError as exc:
        try:
            app = ray_serve.status().applications.get(APP_NAME)
            details = [d.message for d in app.deployments.values()] if app else []
        except Exception:  # the failure itself is what the caller must see
            details = []
        raise RuntimeUnavailable(deploy_failure(str(exc), details, host, port, ingress)) from exc


def deploy_failure(failure: str, details: list[str], host: str, port: int, ingress: Ingress) -> str:
    """What ``hub up`` says when the API's deployment failed: Serve's own error names only the
    deployment ("Failed to update the deployments ['api']"); the cause is in the deployment's
    status message (the replica's traceback), of which the last line is the error."""
    text = "\n".join(details)
    if "NoAvailablePortError" in text or "Failed to bind to address" in text:
        where = "the API port" if ingress == "direct" else "Serve's proxy port"
        return (
            f"{where} {host}:{port} was taken by another program after hub up checked it and "
            "before the API could listen on it; free it, or choose another with --api-port"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{failure} {lines[-1]}" if lines else failure

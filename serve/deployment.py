"""The Ray Serve deployment of the API, and its application builder for ``serve run``.

``hub up`` deploys it; ``serve run cluster/serve.yaml`` does the same from a config file (the
builder reads the token digest from ``HUB_HOME`` or takes ``token_sha256`` in its args).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ray import serve as ray_serve

from hub.api_deploy import access_log_from_env
from hub.auth import load_or_create_token, token_digest
from hub.placement import api_placement
from hub.settings import hub_home
from serve._app import create_app
from serve._config import ApiConfig


@ray_serve.deployment(
    name="api",
    ray_actor_options={"num_cpus": 0},
    # Live streams hold a request each for as long as they last: allow many at once.
    max_ongoing_requests=2000,
    health_check_period_s=10,
)
@ray_serve.ingress()
class ApiIngress:
    def __init__(self, config: ApiConfig | dict[str, Any]) -> None:
        self.config = ApiConfig.model_validate(config)
        _reuse_the_api_port()

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self.config)


def _reuse_the_api_port() -> None:
    """Make direct ingress bind the API port with SO_REUSEADDR, as uvicorn and Serve's proxy do.

    Serve (2.x) binds a direct-ingress replica's port without it, so the connections a stopped
    runtime's replica closed linger in TIME-WAIT and keep the next replica (and ``hub up``) off
    the port for a minute. Serve starts that server after this constructor, through the module
    global patched here (Serve's only switch for it, ``enable_so_reuseport``, sets
    SO_REUSEADDR and SO_REUSEPORT; ``hub up`` still refuses a port someone listens on)."""
    from ray.serve._private import replica

    start = replica.start_asgi_http_server  # type: ignore[attr-defined]
    if getattr(start, "reuses_address", False):
        return

    async def start_reusing(app: Any, options: Any, *, event_loop: Any, **_: Any) -> Any:
        return await start(app, options, event_loop=event_loop, enable_so_reuseport=True)

    start_reusing.reuses_address = True  # type: ignore[attr-defined]
    replica.start_asgi_http_server = start_reusing  # type: ignore[attr-defined,assignment]


def build(args: dict[str, Any]) -> Any:
    """The application builder ``serve run`` / a Serve config file names
    (``import_path: serve.deployment:build``)."""
    args = dict(args)
    if "token_sha256" not in args:
        home = Path(str(args.pop("home"))).expanduser() if "home" in args else hub_home()
        token, _ = load_or_create_token(home)
        args["token_sha256"] = token_digest(token)
    else:
        args.pop("home", None)
    deployment = ApiIngress.options(  # type: ignore[attr-defined]
        logging_config={"enable_access_log": access_log_from_env()},
        # On the head, where the API's address is advertised (direct ingress binds the replica
        # to the API port of its own node) and the supervisor lives.
        ray_actor_options={"num_cpus": 0, **api_placement().ray_options()},
    )
    return deployment.bind(ApiConfig.model_validate(args))

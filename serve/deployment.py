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

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(self.config)


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

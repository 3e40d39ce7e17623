"""Runtime Hub's HTTP API on Ray Serve.

``create_app`` builds the FastAPI application; ``serve.deployment`` holds the Serve deployment
(imported only where Ray Serve runs). Routes live in ``serve.routes``, one module per screen.
"""

from hub import _ray_env  # noqa: F401  (first: before anything imports Ray)

# isort: split
from serve._app import create_app
from serve._config import API_PREFIX, APP_NAME, ApiConfig

__all__ = ["API_PREFIX", "APP_NAME", "ApiConfig", "create_app"]

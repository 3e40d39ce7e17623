"""The FastAPI application: routes under ``/api/v1``, auth, one error shape, OpenAPI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse

from hub.errors import HubError
from serve import _errors
from serve._auth import require_token
from serve._backend import RuntimeBackend
from serve._config import API_PREFIX, ApiConfig
from serve._middleware import AuditLog, BodyLimit, audit_writer
from serve._models import ErrorBody
from serve.routes import (
    admin,
    debugging,
    desktop,
    executions,
    insights,
    runs,
    settings,
    streams,
    workflows,
)

DESCRIPTION = """Runtime Hub's HTTP API: workflows, runs, live events and logs, history,
debugging, settings. Every route but `/health` needs `Authorization: Bearer <token>` (the token
the first `hub up` printed; it is kept in `HUB_HOME/api.token`). Errors have one shape:
`{"error": {"code", "message", "details"}}`."""


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# Documented on every secured route, so clients (and schemathesis) know the error shape; the
# 422 entry replaces FastAPI's own validation-error schema, which this API never answers with.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("The request cannot be carried out as asked (a malformed body, say)"),
    401: _error("Missing or invalid bearer token"),
    404: _error("No such workflow, execution, step, saved input set or route"),
    409: _error("The request clashes with the current state (an illegal transition, a conflict)"),
    413: _error("The request body is larger than the limit (1 MiB by default)"),
    422: _error("The request is invalid; `details.errors` names each field"),
    500: _error("The API failed unexpectedly (the details are in the runtime's logs)"),
    503: _error("The runtime is starting, restarting or unreachable; retry after a moment"),
}


def create_app(config: ApiConfig, backend: RuntimeBackend | None = None) -> FastAPI:
    app = FastAPI(
        title="Runtime Hub API",
        version="1",
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.config = config
    app.state.backend = backend or RuntimeBackend(config)
    _errors.install(app)

    @app.get(
        f"{API_PREFIX}/health",
        tags=["health"],
        response_model=dict[str, Any],
        responses={503: ERROR_RESPONSES[503]},
    )
    async def health() -> Any:
        """Whether the runtime answers (no auth): 200 ``ok``, or 503 while it starts or is
        unreachable."""
        try:
            await app.state.backend.supervisor_call("ping")
        except HubError as exc:
            return JSONResponse(
                _errors.error_body("runtime_unavailable", str(exc)),
                status_code=503,
                headers={"Retry-After": "1"},
            )
        return {"status": "ok", "api_version": "1"}

    secured = APIRouter(
        prefix=API_PREFIX, dependencies=[Depends(require_token)], responses=ERROR_RESPONSES
    )
    for module in (
        workflows,
        runs,
        executions,
        debugging,
        streams,
        insights,
        settings,
        desktop,
        admin,
    ):
        secured.include_router(module.router)
    app.include_router(secured)
    app.add_middleware(AuditLog, write=audit_writer(app.state.backend))
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    return app

"""The FastAPI application: routes under ``/api/v1``, auth, one error shape, OpenAPI."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse

from hub.records import utcnow
from serve import _errors, console
from serve._auth import require_token
from serve._backend import RuntimeBackend
from serve._config import API_PREFIX, ApiConfig
from serve._health import HealthReport, Probe, check_health
from serve._middleware import AuditLog, BodyLimit, audit_writer
from serve._models import ErrorBody
from serve.routes import (
    admin,
    breakers,
    debugging,
    desktop,
    executions,
    hooks,
    insights,
    nodes,
    runs,
    settings,
    streams,
    triggers,
    workflows,
)

DESCRIPTION = """Runtime Hub's HTTP API: workflows, runs, live events and logs, history,
debugging, settings, triggers. Every route but `/health` needs `Authorization: Bearer <token>` (the
token the first `hub up` printed; it is kept in `HUB_HOME/api.token`); a webhook
(`/hooks/...`) takes the token or the signature of its body. Errors have one shape:
`{"error": {"code", "message", "details"}}`."""


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# Documented on every secured route, so clients (and schemathesis) know the error shape; the
# 422 entry replaces FastAPI's own validation-error schema, which this API never answers with.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("The request cannot be carried out as asked (a malformed body, say)"),
    401: _error("Missing or invalid bearer token (or console session)"),
    403: _error("Refused: a closed gate or node family, or a console change without CSRF token"),
    404: _error("No such workflow, execution, step, saved input set or route"),
    409: _error("The request clashes with the current state (an illegal transition, a conflict)"),
    413: _error("The request body is larger than the limit (1 MiB by default)"),
    422: _error("The request is invalid; `details.errors` names each field"),
    500: _error("The API failed unexpectedly (the details are in the runtime's logs)"),
    503: _error("The runtime is starting, restarting or unreachable; retry after a moment"),
}


def health_probes(backend: RuntimeBackend) -> dict[str, Probe]:
    """What ``GET /health`` checks; triggers join here once they exist."""
    started_at = utcnow()

    async def api() -> dict[str, Any]:  # this replica: answering at all is its check
        return {"started_at": started_at, "pid": os.getpid()}

    async def supervisor() -> dict[str, Any]:
        found: dict[str, Any] = await backend.supervisor_call("health")
        return found

    async def recorder() -> dict[str, Any]:
        found: dict[str, Any] = await backend.recorder_call("health")
        return found

    async def database() -> dict[str, Any]:
        found: dict[str, Any] = await backend.recorder_call("check_database")
        return found

    return {"api": api, "supervisor": supervisor, "recorder": recorder, "database": database}


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

    probes = health_probes(app.state.backend)

    @app.get(
        f"{API_PREFIX}/health",
        tags=["health"],
        response_model=HealthReport,
        responses={503: ERROR_RESPONSES[503]},
    )
    async def health() -> Any:
        """Each component's state (no auth): the API, the supervisor, the Recorder and the
        database (a real query through the Recorder), with uptimes and the version. 200 when
        every one is ``ok``; 503 (the error shape, the same report in ``details``) when one is
        down."""
        report = await check_health(probes)
        if report.down:
            return JSONResponse(
                _errors.error_body(
                    "runtime_unavailable",
                    f"the runtime is not healthy: {report.summary()}",
                    report.model_dump(mode="json"),
                ),
                status_code=503,
                headers={"Retry-After": "1"},
            )
        return report

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
        breakers,
        triggers,
        nodes,
    ):
        secured.include_router(module.router)
    app.include_router(secured)
    # The one route without require_token (it takes the token or a signature, hooks.py): mounted
    # on its own, so the exemption is that route's and no other path can reach it.
    app.include_router(hooks.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.include_router(console.router)  # /ui: the web console, a client of the routes above
    app.add_middleware(AuditLog, write=audit_writer(app.state.backend))
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    return app

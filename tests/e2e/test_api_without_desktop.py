"""A runtime of its own, as a user starts one on a server without a display: no ``--desktop``, its
history in PostgreSQL, a retention limit. The desktop routes answer as for a runtime that is up
(an empty list, a 409 that says how to add a display node), the audit log follows the retention
settings, and ``GET /health`` answers 503, naming the database, while the database is away. Its
own HUB_HOME and ports, so the session's runtime is undisturbed.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine

from tests.conftest import HUB, free_port
from tests.e2e.test_api import error_of
from tests.e2e.test_api_schema import STREAM_HEARTBEAT_S, assert_conforms, schemathesis
from tests.unit.test_store import PG_URL

# Its own runtime, whose database the last test takes away: chaos, and PostgreSQL; the first
# test's time includes that runtime's start.
pytestmark = [pytest.mark.chaos, pytest.mark.postgres, pytest.mark.timeout(300)]

CLICKER = {
    "region": {"left": 0, "top": 0, "width": 10, "height": 10},
    "threshold": 1,
    "click_x": 5,
    "click_y": 5,
    "dry_run": True,
}


@dataclass
class Runtime:
    api: httpx.Client
    schema: str

    def health(self) -> httpx.Response:
        return self.api.get("/health")


def _sql(statement: str) -> None:
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(statement)
    finally:
        admin.dispose()


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    home = tmp_path_factory.mktemp("hub-home-bare")
    schema = f"test_bare_{uuid.uuid4().hex[:12]}"
    _sql(f'CREATE SCHEMA "{schema}"')
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "HUB_ENABLE_DESKTOP")} | {
        "HUB_HOME": str(home),
        "HUB_DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
        "HUB_WARM_EXECUTION_ACTORS": "0",
        # The audit log keeps 10 entries per execution kept; pruned every second here.
        "HUB_RETENTION_MAX_EXECUTIONS": "1",
        "HUB_RETENTION_INTERVAL_S": "1",
        "HUB_API_HEARTBEAT_S": STREAM_HEARTBEAT_S,  # for schemathesis (test_api_schema)
    }
    ports = ("--port", "--dashboard-port", "--api-port")
    up_args = [HUB, "up", "--json", *(str(a) for p in ports for a in (p, free_port()))]

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)

    try:
        up = hub(*up_args)
        assert up.returncode == 0, f"hub up failed:\n{up.stdout}\n{up.stderr}"
        info: dict[str, Any] = json.loads(up.stdout)
        token = (Path(home) / "api.token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=info["api_url"], headers=headers, timeout=60) as client:
            yield Runtime(client, schema)
    finally:
        down = hub(HUB, "down")
        _sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        _sql(f'DROP SCHEMA IF EXISTS "{schema}_away" CASCADE')
    assert down.returncode == 0, down.stderr


def test_desktop_routes_without_a_display_node(bare: Runtime) -> None:
    api = bare.api
    listed = api.get("/desktop/sessions")
    assert listed.status_code == 200 and listed.json() == {"items": []}, listed.text

    for response in (api.post("/desktop/sessions", json=CLICKER), api.post("/desktop/reset")):
        error = error_of(response, 409, "no_desktop_node")
        assert "hub up --desktop" in error["message"]
        assert '"desktop": 1' in error["message"]  # or join a display node to this runtime

    error = error_of(api.get("/desktop/sessions/0123456789ab"), 404, "not_found")
    assert "0123456789ab" in error["message"] and "display" in error["message"]
    error_of(api.post("/desktop/sessions/0123456789ab/stop"), 404, "not_found")
    # Still a bad request first: a config that is not one is a 422, display or not.
    error_of(api.post("/desktop/sessions", json={**CLICKER, "threshold": None}), 422)
    # A runtime without a display is healthy.
    assert bare.health().status_code == 200


def test_the_audit_log_follows_the_retention_settings(bare: Runtime) -> None:
    api = bare.api
    for i in range(15):  # each an audited call (a 404 by an authenticated caller)
        error_of(api.delete(f"/workflows/retained-{i}"), 404)
    deadline = time.monotonic() + 20  # rounds run every second
    while len(entries := api.get("/audit", params={"limit": 100}).json()["items"]) > 10:
        assert time.monotonic() < deadline, f"{len(entries)} audit entries left"
        time.sleep(0.2)
    # retention_max_executions = 1: the newest 10 entries stay, the older ones are gone.
    assert [e["action"] for e in entries] == [
        f"DELETE /api/v1/workflows/retained-{i}" for i in range(14, 4, -1)
    ]


@pytest.mark.timeout(900)
def test_the_api_conforms_to_its_openapi_document_without_a_desktop(
    bare: Runtime, tmp_path: Path
) -> None:
    """Schemathesis, every operation and phase, on this desktop-less runtime (test_api_schema)."""
    token = bare.api.headers["Authorization"].removeprefix("Bearer ")
    api_url = str(bare.api.base_url).rstrip("/")
    assert_conforms(schemathesis(api_url, token, tmp_path / "schemathesis.json"))


def test_health_is_503_naming_the_database_while_it_is_away(bare: Runtime) -> None:
    assert bare.health().json()["components"]["database"]["details"]["dialect"] == "postgresql"
    _sql(f'ALTER SCHEMA "{bare.schema}" RENAME TO "{bare.schema}_away"')
    try:
        response = bare.health()
        error = error_of(response, 503, "runtime_unavailable")
        assert response.headers["Retry-After"] == "1"
        assert error["message"].startswith("the runtime is not healthy: database: ")
        report = error["details"]
        assert report["status"] == "down"
        statuses = {name: c["status"] for name, c in report["components"].items()}
        assert statuses == {"api": "ok", "supervisor": "ok", "recorder": "ok", "database": "down"}
        assert "settings" in report["components"]["database"]["message"]  # the failed query
    finally:
        _sql(f'ALTER SCHEMA "{bare.schema}_away" RENAME TO "{bare.schema}"')
    recovered = bare.health()
    assert recovered.status_code == 200 and recovered.json()["status"] == "ok", recovered.text

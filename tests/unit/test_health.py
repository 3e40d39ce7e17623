"""``GET /health``'s logic (serve._health): every component probed, a component that fails or
does not answer is down, and the report says which and why. The database probes here query real
stores: a SQLite file that answers, and a PostgreSQL address where nothing listens."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from hub.errors import RuntimeUnavailable
from hub.records import utcnow
from hub.store import Store
from serve._health import check_health, package_version
from tests.conftest import free_port


def database_probe(store: Store) -> Any:
    async def database() -> dict[str, Any]:
        return {"latency_ms": await asyncio.to_thread(store.check)}

    return database


async def supervisor() -> dict[str, Any]:
    return {"started_at": utcnow() - timedelta(seconds=90), "incarnation": "first"}


def test_every_component_up_is_ok_with_uptime_and_version(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'hub.db'}") as store:
        report = asyncio.run(
            check_health({"supervisor": supervisor, "database": database_probe(store)})
        )
    assert report.status == "ok" and report.down == []
    assert report.version == package_version() != "unknown"
    assert report.uptime_s is not None and 90 <= report.uptime_s < 120
    sup = report.components["supervisor"]
    assert sup.status == "ok" and sup.details["incarnation"] == "first"
    assert sup.details["started_at"].endswith("Z") and sup.uptime_s == report.uptime_s
    assert report.components["database"].details["latency_ms"] >= 0


def test_a_database_that_does_not_answer_is_down() -> None:
    # A real store whose server is not there: its query fails as it would in the Recorder.
    store = Store(f"postgresql://postgres@127.0.0.1:{free_port()}/hub", migrate=False)
    try:
        report = asyncio.run(
            check_health({"supervisor": supervisor, "database": database_probe(store)})
        )
    finally:
        store.close()
    assert report.status == "down" and report.down == ["database"]
    database = report.components["database"]
    assert database.status == "down" and database.message
    assert "cannot reach the database" in database.message  # the store's own StoreError text
    assert "database:" in report.summary()
    assert report.components["supervisor"].status == "ok"


def test_a_component_that_hangs_or_fails_is_down_without_holding_the_others() -> None:
    never = asyncio.Event()

    async def hangs() -> dict[str, Any]:
        await never.wait()
        return {}

    async def restarting() -> dict[str, Any]:
        raise RuntimeUnavailable("the runtime's recorder is restarting; try again in a moment")

    async def broken() -> dict[str, Any]:
        raise OSError("connection reset")

    report = asyncio.run(
        check_health(
            {"supervisor": hangs, "recorder": restarting, "api": broken},
            timeout_s=0.2,
        )
    )
    assert report.status == "down"
    assert report.down == ["supervisor", "recorder", "api"]
    assert report.uptime_s is None  # the supervisor's is unknown while it is down
    messages = {name: c.message for name, c in report.components.items()}
    assert messages == {
        "supervisor": "no answer within 0.2 s",
        "recorder": "the runtime's recorder is restarting; try again in a moment",
        "api": "OSError: connection reset",
    }

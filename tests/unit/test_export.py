"""``GET /executions/export`` in process: the real application and route over HTTP (httpx's ASGI
transport), its Recorder calls answered by a real SQLite store. A bad parameter is a 422 before
the first byte; a store that fails once the body has started ends it cleanly, marked incomplete,
and logged. (tests/e2e/test_api_executions.py exports through the real runtime.)"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.auth import token_digest
from hub.records import CreateExecution, ExecutionRecord, ExecutionStatus, utcnow
from hub.store import Store
from serve import ApiConfig, _export, create_app
from serve._backend import RuntimeBackend
from serve._export import ERROR_ID

TOKEN = "export-test-token"
PAGE_SIZE = 5  # the export's page size here, so a few executions make several pages
COUNT = 2 * PAGE_SIZE + 2


class StoreBackend(RuntimeBackend):
    """The Recorder's reads, served by a store in this process; ``fail_after`` closes the
    store after that many calls (the database going away while an export streams)."""

    def __init__(self, store: Store, fail_after: int | None = None) -> None:
        super().__init__(ApiConfig(token_sha256=token_digest(TOKEN)))
        self.store, self.fail_after, self.calls = store, fail_after, 0

    async def recorder_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = await asyncio.to_thread(getattr(self.store, method), *args, **kwargs)
        self.calls += 1
        if self.calls == self.fail_after:
            self.store.close()
        return result


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setattr(_export, "PAGE_SIZE", PAGE_SIZE)
    with Store(f"sqlite:///{tmp_path / 'hub.db'}") as s:
        start = utcnow() - timedelta(hours=1)
        s.apply(
            [
                CreateExecution(
                    record=ExecutionRecord(
                        id=f"e{i:04d}",
                        workflow_id="wf",
                        workflow_version="1",
                        status=ExecutionStatus.COMPLETED,
                        created_at=start + timedelta(seconds=i),
                    )
                )
                for i in range(COUNT)
            ]
        )
        yield s


def export(backend: RuntimeBackend, **params: Any) -> httpx.Response:
    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(backend.config, backend))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://hub/api/v1",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as client:
            return await client.get("/executions/export", params=params)

    return asyncio.run(get())


def test_the_whole_export_in_both_formats(store: Store) -> None:
    as_json = export(StoreBackend(store), format="json")
    assert as_json.status_code == 200
    assert [e["id"] for e in as_json.json()] == [f"e{i:04d}" for i in reversed(range(COUNT))]
    as_csv = export(StoreBackend(store), format="csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == COUNT and rows[-1]["id"] == "e0000"


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"cursor": "garbage!"}, "query.cursor"),
        ({"cursor": "eyJzIjoiY3JlYXRlZF9hdCIsImlkIjoxfQ"}, "query.cursor"),  # valid base64 JSON
        ({"q": "x" * 501}, "query.q"),
        ({"q": "a\x00b"}, "query.q"),
        ({"created_after": "2026-01-01T00:00:00"}, "query.created_after"),
        ({"limit": 0}, "query.limit"),
        ({"format": "xml"}, "query.format"),
    ],
)
def test_a_bad_parameter_is_a_422_before_the_first_byte(
    store: Store, params: dict[str, Any], path: str
) -> None:
    response = export(StoreBackend(store), **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["code"] == "invalid_request"
    assert path in [e["path"] for e in error["details"]["errors"]], error
    assert path in error["message"]


@pytest.mark.parametrize("format", ["json", "csv"])
def test_a_failure_mid_stream_ends_the_body_cleanly_and_says_so(
    store: Store, format: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="runtime_hub.api"):
        response = export(StoreBackend(store, fail_after=1), format=format)
    assert response.status_code == 200  # sent with the first page, before the store went away
    if format == "json":
        *items, last = response.json()  # a whole JSON document, its last element the error
        assert len(items) == PAGE_SIZE and all("id" in e for e in items)
        assert last["error"]["code"] == "store_error"
        assert "incomplete" in last["error"]["message"]
        assert last["error"]["details"] == {"exported": PAGE_SIZE}
    else:
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == PAGE_SIZE + 1
        assert rows[-1]["id"] == ERROR_ID and rows[-1]["error_category"] == "store_error"
        assert "incomplete" in rows[-1]["error_message"]
    assert f"failed after {PAGE_SIZE} executions" in caplog.text
    assert "is closed" in caplog.text  # the store's own reason, in the replica's log


def test_the_error_element_is_json_even_for_an_unexpected_failure(store: Store) -> None:
    class Exploding(StoreBackend):
        async def recorder_call(self, method: str, *args: Any, **kwargs: Any) -> Any:
            if self.calls:
                raise ZeroDivisionError("boom")
            return await super().recorder_call(method, *args, **kwargs)

    body = json.loads(export(Exploding(store)).text)
    assert body[-1]["error"]["code"] == "internal_error"
    assert "boom" not in json.dumps(body[-1])  # the reason stays in the log

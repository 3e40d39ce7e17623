"""The body of ``GET /executions/export``: every matching execution, page by page, as CSV or a
JSON array.

Everything the request can get wrong is found before the first byte: the route fetches the first
page (the store decodes the cursor and runs the filters then) and answers an error with the
usual shape and status. Once the body has started, its status line is sent and cannot change,
so a later failure (the Recorder restarting, the store going away) is logged and ends the body
cleanly, with a last record that says it is incomplete: in JSON an ``{"error": {...}}`` element
closing the array, in CSV a row whose ``id`` is ``#error``. A client never sees a torn chunked
stream, and never takes a cut-off export for a whole one.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from fastapi.responses import StreamingResponse

from hub.errors import HubError
from hub.history import ExecutionPage, ExecutionQuery
from hub.records import ExecutionRecord
from hub.views import execution_json

_log = logging.getLogger("runtime_hub.api")

PAGE_SIZE = 500
ERROR_ID = "#error"
ExportFormat = Literal["csv", "json"]
FetchPage = Callable[[ExecutionQuery], Awaitable[ExecutionPage]]

CSV_COLUMNS = [
    "id",
    "workflow_id",
    "workflow_version",
    "status",
    "trigger",
    "created_at",
    "started_at",
    "ended_at",
    "duration_ms",
    "error_category",
    "error_message",
    "parent_id",
]


def summary_json(record: ExecutionRecord) -> dict[str, Any]:
    """An execution as lists and exports show it: without its steps, with its duration."""
    data = execution_json(record)
    data.pop("steps", None)
    ended, started = record.ended_at, record.started_at
    data["duration_ms"] = (
        round((ended - started).total_seconds() * 1000) if ended and started else None
    )
    return data


def csv_row(data: dict[str, Any]) -> str:
    error = data.get("error") or {}
    row = {**data, "error_category": error.get("category"), "error_message": error.get("message")}
    out = io.StringIO()
    csv.writer(out).writerow(["" if row.get(c) is None else row[c] for c in CSV_COLUMNS])
    return out.getvalue()


async def first_page(fetch: FetchPage, query: ExecutionQuery) -> ExecutionPage:
    """The export's first page, fetched before any byte is sent: a malformed cursor or filter
    raises here (InvalidRequest, a 422), while the answer can still say so."""
    return await fetch(query.model_copy(update={"limit": PAGE_SIZE}))


async def _records(
    first: ExecutionPage, fetch: FetchPage, query: ExecutionQuery
) -> AsyncIterator[dict[str, Any]]:
    page = first
    while True:
        for record in page.items:
            yield summary_json(record)
        if page.next_cursor is None:
            return
        page = await fetch(
            query.model_copy(update={"cursor": page.next_cursor, "limit": PAGE_SIZE})
        )


def _failure(exc: Exception, exported: int) -> dict[str, Any]:
    """What the last record says when the export fails midway (the traceback goes to the log)."""
    _log.error(
        "the execution export failed after %d executions: %s",
        exported,
        exc,
        exc_info=not isinstance(exc, HubError),
    )
    code = exc.code if isinstance(exc, HubError) else "internal_error"
    reason = exc.message if isinstance(exc, HubError) else "the API failed unexpectedly"
    message = f"the export is incomplete: it failed after {exported} executions ({reason})"
    return {"code": code, "message": message, "details": {"exported": exported}}


async def _json_body(
    first: ExecutionPage, fetch: FetchPage, query: ExecutionQuery
) -> AsyncIterator[str]:
    yield "["
    exported = 0
    try:
        async for data in _records(first, fetch, query):
            yield ("," if exported else "") + json.dumps(data, default=str)
            exported += 1
    except Exception as exc:
        yield ("," if exported else "") + json.dumps({"error": _failure(exc, exported)})
    yield "]"


async def _csv_body(
    first: ExecutionPage, fetch: FetchPage, query: ExecutionQuery
) -> AsyncIterator[str]:
    yield ",".join(CSV_COLUMNS) + "\r\n"
    exported = 0
    try:
        async for data in _records(first, fetch, query):
            yield csv_row(data)
            exported += 1
    except Exception as exc:
        error = _failure(exc, exported)
        yield csv_row(
            {"id": ERROR_ID, "error": {"category": error["code"], "message": error["message"]}}
        )


def export_response(
    first: ExecutionPage, fetch: FetchPage, query: ExecutionQuery, format: ExportFormat
) -> StreamingResponse:
    """The streamed export, starting from ``first`` (see :func:`first_page`)."""
    body = _csv_body if format == "csv" else _json_body
    return StreamingResponse(
        body(first, fetch, query),
        media_type="text/csv" if format == "csv" else "application/json",
        headers={"Content-Disposition": f'attachment; filename="executions.{format}"'},
    )

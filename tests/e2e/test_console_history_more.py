"""More of the History screen in a real Chromium against the session's runtime: the trigger
filter (runs started through the API against a trigger's fire), the time-range filter, and the
JSON export of the filtered rows."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.conftest import check_accessibility
from tests.e2e.test_api import create, run_to_end, wait_for, wf
from tests.e2e.test_console_history import apply_filters, row_ids

pytestmark = pytest.mark.ray


def triggered_workflow(api: httpx.Client) -> str:
    doc = wf(
        [{"id": "say", "type": "log", "parameters": {"message": "hello"}}],
        triggers=[{"id": "tick", "type": "schedule", "every_s": 3600}],
    )
    create(api, doc)
    return str(doc["id"])


def fire(api: httpx.Client, workflow: str) -> dict[str, Any]:
    answer = api.post(f"/triggers/{workflow}/tick/fire")
    assert answer.status_code == 202, answer.text
    return wait_for(api, str(answer.json()["execution_id"]))


def created(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(record["created_at"]).replace("Z", "+00:00"))


def test_the_trigger_filter_tells_api_runs_from_trigger_fires(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    workflow = triggered_workflow(api)
    try:
        by_api = [str(run_to_end(api, workflow)["id"]) for _ in range(2)]
        fired = fire(api, workflow)
        assert fired["trigger"] == "schedule"
        page = console
        page.goto(f"{console_url}/executions?workflow_id={workflow}")
        page.get_by_role("link", name=f"Execution {fired['id']}").wait_for()
        assert sorted(row_ids(page)) == sorted([*by_api, fired["id"]])

        page.get_by_label("Trigger").fill("api")
        apply_filters(page)
        page.wait_for_url(re.compile(r"trigger=api"))
        page.get_by_role("link", name=f"Execution {fired['id']}").wait_for(state="detached")
        assert sorted(row_ids(page)) == sorted(by_api)
        stats = page.get_by_role("region", name="Statistics of the matching executions")
        assert re.search(r"Total\s*2", stats.inner_text())
        check_accessibility(page, "history-trigger-filter")

        page.get_by_label("Trigger").fill("schedule")
        apply_filters(page)
        page.wait_for_url(re.compile(r"trigger=schedule"))
        page.get_by_role("link", name=f"Execution {by_api[0]}").wait_for(state="detached")
        assert row_ids(page) == [fired["id"]]
        assert page.get_by_label("Trigger").input_value() == "schedule"
    finally:
        api.delete(f"/workflows/{workflow}")


def test_the_time_range_narrows_the_rows_and_the_json_export_has_the_same_ids(
    console: Any, console_url: str, api: httpx.Client, tmp_path: Path
) -> None:
    workflow = triggered_workflow(api)
    try:
        first = run_to_end(api, workflow)
        later = [run_to_end(api, workflow) for _ in range(2)]
        # A moment between the first run's creation and the second's (the API's bounds are
        # inclusive after, exclusive before).
        split = created(later[0])
        assert created(first) < split
        later_ids = sorted(str(r["id"]) for r in later)
        page = console
        page.goto(
            f"{console_url}/executions?"
            + urlencode({"workflow_id": workflow, "created_after": split.isoformat()})
        )
        page.get_by_role("link", name=f"Execution {later_ids[0]}").wait_for()
        assert sorted(row_ids(page)) == later_ids
        assert page.get_by_label("Created from").input_value() != ""

        # Another filter applied through the form keeps the exact time from the address (the
        # form shows it to the minute only).
        page.get_by_label("Trigger").fill("api")
        apply_filters(page)
        page.wait_for_url(re.compile(r"trigger=api"))
        page.get_by_role("link", name=f"Execution {later_ids[0]}").wait_for()
        assert sorted(row_ids(page)) == later_ids

        with page.expect_download() as info:
            page.get_by_role("link", name="Export JSON").click()
        target = tmp_path / "executions.json"
        info.value.save_as(target)
        exported = json.loads(target.read_text())
        assert sorted(item["id"] for item in exported) == later_ids
        assert {item["workflow_id"] for item in exported} == {workflow}

        # A range typed in the form: everything created before the first run's minute is none
        # of these runs.
        minute = page.evaluate(
            """iso => { const d = new Date(iso); const p = n => String(n).padStart(2, "0");
            return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}` +
                   `T${p(d.getHours())}:${p(d.getMinutes())}`; }""",
            first["created_at"],
        )
        page.get_by_label("Created from").fill("")
        page.get_by_label("Created before").fill(minute)
        apply_filters(page)
        page.wait_for_url(re.compile(r"created_before="))
        page.get_by_text("No executions match these filters.").wait_for()
        assert "created_after" not in page.url
    finally:
        api.delete(f"/workflows/{workflow}")

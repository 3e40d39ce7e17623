"""The History and Performance screens in a real Chromium against the session's runtime: filters
kept in the address, keyset paging, CSV export, bulk delete, quick re-run, the performance
report with its charts' text alternatives."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import check_accessibility
from tests.e2e.test_api import create, run_to_end, wf

pytestmark = pytest.mark.ray


def notice(page: Any, text: str) -> None:
    """Wait for the screen's confirmation (the visible note; the live region repeats it)."""
    page.locator("p.ok-note", has_text=text).wait_for()


def ok_workflow(api: httpx.Client) -> str:
    doc = wf([{"id": "say", "type": "log", "parameters": {"message": "hello {{ $input.n }}"}}])
    doc["inputs"] = {"n": {"type": "integer", "default": 0}}
    create(api, doc)
    return str(doc["id"])


def failing_workflow(api: httpx.Client) -> str:
    doc = wf([{"id": "boom", "type": "fail", "parameters": {"message": "history-probe broke"}}])
    create(api, doc)
    return str(doc["id"])


def runs(api: httpx.Client, workflow_id: str, count: int) -> list[str]:
    return [str(run_to_end(api, workflow_id, {"n": i})["id"]) for i in range(count)]


def row_ids(page: Any) -> list[str]:
    """The execution ids of the table's rows, in order (from each row's link)."""
    links = page.get_by_role("table").get_by_role("link", name=re.compile(r"^Execution "))
    return [
        str(name).removeprefix("Execution ")
        for name in links.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    ]


def apply_filters(page: Any) -> None:
    page.get_by_role("button", name="Apply filters").click()


def wait_for_rows(page: Any, count: int) -> None:
    """Until the table holds ``count`` rows: the filtered answer, not the page it replaces (the
    unfiltered list may hold the very run a test waits for)."""
    links = page.get_by_role("table").get_by_role("link", name=re.compile(r"^Execution "))
    expect(links).to_have_count(count, timeout=30_000)


def test_history_finds_runs_by_workflow_and_status_and_opens_one(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    ok, bad = ok_workflow(api), failing_workflow(api)
    ok_ids = runs(api, ok, 3)
    failed = str(run_to_end(api, bad)["id"])
    page = console
    page.goto(console_url + "/executions")
    page.get_by_role("heading", name="Executions", level=1).wait_for()

    page.get_by_label("Workflow").fill(ok)
    apply_filters(page)
    page.wait_for_url(re.compile(rf"workflow_id={ok}"))
    wait_for_rows(page, 3)
    assert sorted(row_ids(page)) == sorted(ok_ids)
    stats = page.get_by_role("region", name="Statistics of the matching executions")
    assert re.search(r"Total\s*3", stats.inner_text())
    check_accessibility(page, "history")

    # The failing workflow, only failed runs: the one failure; then open it.
    page.get_by_label("Workflow").fill(bad)
    page.get_by_role("checkbox", name="Failed").check()
    apply_filters(page)
    page.wait_for_url(re.compile(r"status=failed"))
    wait_for_rows(page, 1)
    assert row_ids(page) == [failed]
    assert "history-probe broke" in page.get_by_role("table").inner_text()
    # Completed only: nothing of the failing workflow.
    page.get_by_role("checkbox", name="Failed").uncheck()
    page.get_by_role("checkbox", name="Completed").check()
    apply_filters(page)
    page.get_by_text("No executions match these filters.").wait_for()

    # The back button returns to the failed-only view (the filters live in the address).
    page.go_back()
    page.get_by_role("link", name=f"Execution {failed}").wait_for()
    assert page.get_by_role("checkbox", name="Failed").is_checked()

    page.get_by_role("link", name=f"Execution {failed}").click()
    page.wait_for_url(re.compile(rf"/ui/executions/{failed}$"))


def test_history_pages_with_keyset_cursors(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    workflow = ok_workflow(api)
    ids = runs(api, workflow, 5)
    newest_first = [
        item["id"]
        for item in api.get("/executions", params={"workflow_id": workflow}).json()["items"]
    ]
    assert sorted(newest_first) == sorted(ids)
    page = console
    page.goto(f"{console_url}/executions?workflow_id={workflow}&limit=2")
    page.get_by_role("link", name=f"Execution {newest_first[0]}").wait_for()
    assert row_ids(page) == newest_first[:2]
    previous = page.get_by_role("button", name="Previous page")
    following = page.get_by_role("button", name="Next page")
    assert previous.is_disabled()

    following.click()
    page.wait_for_url(re.compile(r"cursor="))
    page.get_by_role("link", name=f"Execution {newest_first[2]}").wait_for()
    assert row_ids(page) == newest_first[2:4]
    second_page_url = page.url
    following.click()
    page.get_by_role("link", name=f"Execution {newest_first[4]}").wait_for()
    assert row_ids(page) == newest_first[4:]
    assert following.is_disabled()

    previous.click()
    page.get_by_role("link", name=f"Execution {newest_first[2]}").wait_for()
    assert page.url == second_page_url and row_ids(page) == newest_first[2:4]
    previous.click()
    page.get_by_role("link", name=f"Execution {newest_first[0]}").wait_for()
    assert row_ids(page) == newest_first[:2] and "cursor=" not in page.url
    assert previous.is_disabled()


def test_csv_export_downloads_the_filtered_rows(
    console: Any, console_url: str, api: httpx.Client, tmp_path: Path
) -> None:
    workflow = ok_workflow(api)
    ids = runs(api, workflow, 3)
    page = console
    page.goto(f"{console_url}/executions?workflow_id={workflow}")
    page.get_by_role("link", name=f"Execution {ids[0]}").wait_for()
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    target = tmp_path / "executions.csv"
    info.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert sorted(r["id"] for r in rows) == sorted(ids)
    assert {r["workflow_id"] for r in rows} == {workflow}
    assert {r["status"] for r in rows} == {"completed"}


def test_bulk_delete_removes_the_chosen_rows_after_a_confirmation(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    workflow = ok_workflow(api)
    ids = runs(api, workflow, 3)
    chosen, kept = ids[:2], ids[2]
    page = console
    page.goto(f"{console_url}/executions?workflow_id={workflow}")
    page.get_by_role("link", name=f"Execution {kept}").wait_for()
    for execution_id in chosen:
        page.get_by_role("checkbox", name=f"Select execution {execution_id}").check()
    page.get_by_role("button", name="Delete selected (2)").click()
    dialog = page.get_by_role("alertdialog")
    assert "Delete 2 executions" in dialog.inner_text()
    assert api.get(f"/executions/{chosen[0]}").status_code == 200  # nothing before confirming
    dialog.get_by_role("button", name="Confirm delete").click()
    notice(page, "Deleted 2 executions.")
    page.get_by_role("link", name=f"Execution {chosen[0]}").wait_for(state="detached")
    assert row_ids(page) == [kept]
    for execution_id in chosen:
        assert api.get(f"/executions/{execution_id}").status_code == 404
    assert api.get(f"/executions/{kept}").status_code == 200


def test_quick_rerun_starts_a_new_execution_and_opens_it(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    workflow = ok_workflow(api)
    (first,) = runs(api, workflow, 1)
    page = console
    page.goto(f"{console_url}/executions?workflow_id={workflow}")
    page.get_by_role("button", name=f"Re-run execution {first}").click()
    page.wait_for_url(re.compile(r"/ui/executions/(?!" + first + r")[0-9a-f]+$"))
    new_id = page.url.rsplit("/", 1)[1]
    record = api.get(f"/executions/{new_id}").json()
    assert record["workflow_id"] == workflow and record["parent_id"] == first


def test_performance_shows_the_report_with_charts_and_their_text(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    workflow = ok_workflow(api)
    runs(api, workflow, 2)
    report = api.get("/metrics/performance").json()
    mine = next(w for w in report["workflows"] if w["workflow_id"] == workflow)
    page = console
    page.goto(console_url + "/performance")
    page.get_by_role("heading", name="Performance", level=1).wait_for()
    row = page.get_by_role("table", name="Performance per workflow").get_by_role(
        "row", name=workflow
    )
    row.wait_for()
    assert row.get_by_role("cell").nth(0).inner_text() == str(mine["count"])
    # Each chart has a figure caption saying what it shows, and a uPlot canvas.
    captions = page.locator("figure.chart figcaption")
    assert captions.count() == 2
    assert "most recent finished executions" in captions.nth(0).inner_text()
    assert "p95 step time" in captions.nth(1).inner_text()
    assert page.locator("figure.chart canvas").count() == 2
    node_types = page.get_by_role("table", name="Performance per node type")
    assert "log" in node_types.inner_text()
    dashboard = api.get("/runtime").json()["dashboard_url"]
    assert dashboard and dashboard.startswith("http")
    link = page.get_by_role("link", name=re.compile("Ray dashboard"))
    assert link.get_attribute("href") == dashboard
    check_accessibility(page, "performance")

"""More of the Settings screen in a real Chromium against the session's runtime: a per-workflow
override set and cleared, settings exported and imported (an edited file applies, a broken one
shows the API's error), a trigger fired now, and an open circuit breaker reset."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.conftest import free_port
from tests.e2e.conftest import check_accessibility
from tests.e2e.test_api import create, run_to_end, wf

pytestmark = pytest.mark.ray


def notice(page: Any, text: str) -> None:
    """Wait for the screen's confirmation (the visible note; the live region repeats it)."""
    page.locator("p.ok-note", has_text=text).wait_for()


def open_settings(page: Any, console_url: str) -> None:
    page.goto(console_url + "/settings")
    page.get_by_role("heading", name="Runtime settings").wait_for()
    page.get_by_label("Prune every (s)").wait_for()


def section(page: Any, title: str) -> Any:
    return page.get_by_role("region", name=title)


def log_workflow(api: httpx.Client, **extra: Any) -> str:
    doc = wf([{"id": "say", "type": "log", "parameters": {"message": "hello"}}], **extra)
    create(api, doc)
    return str(doc["id"])


def test_a_per_workflow_override_is_set_then_cleared(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    workflow = log_workflow(api)
    try:
        page = console
        open_settings(page, console_url)
        overrides = section(page, "Per-workflow overrides")
        overrides.get_by_label("Workflow").select_option(workflow)
        form = overrides.get_by_role("form", name=f"Overrides of {workflow}")
        timeout = form.get_by_label("Timeout (s)")
        timeout.wait_for()
        assert timeout.input_value() == ""  # nothing overridden yet

        # A bad value is refused at its field, and nothing is stored.
        timeout.fill("-5")
        form.get_by_role("button", name="Save overrides").click()
        error = page.locator("#override-timeout_s-error")
        error.wait_for()
        assert "greater than 0" in error.inner_text()
        assert timeout.get_attribute("aria-invalid") == "true"
        assert api.get(f"/workflows/{workflow}/settings").json()["timeout_s"] is None

        timeout.fill("42.5")
        form.get_by_label("Log level").select_option("warn")
        form.get_by_role("button", name="Save overrides").click()
        notice(page, f"Overrides of {workflow} saved.")
        stored = api.get(f"/workflows/{workflow}/settings").json()
        assert stored["timeout_s"] == 42.5
        assert stored["log_level"] == "warn"
        assert stored["max_attempts"] is None
        assert timeout.get_attribute("aria-invalid") is None
        check_accessibility(page, "settings-overrides")

        # The form shows stored overrides when the workflow is chosen again.
        page.reload()
        overrides = section(page, "Per-workflow overrides")
        overrides.get_by_label("Workflow").select_option(workflow)
        form = overrides.get_by_role("form", name=f"Overrides of {workflow}")
        timeout = form.get_by_label("Timeout (s)")
        expect(timeout).to_have_value("42.5")
        expect(form.get_by_label("Log level")).to_have_value("warn")

        # Emptying a field and saving removes that one override; Clear removes them all.
        timeout.fill("")
        form.get_by_role("button", name="Save overrides").click()
        notice(page, f"Overrides of {workflow} saved.")
        stored = api.get(f"/workflows/{workflow}/settings").json()
        assert stored["timeout_s"] is None and stored["log_level"] == "warn"
        form.get_by_role("button", name="Clear overrides").click()
        notice(page, f"Overrides of {workflow} cleared.")
        stored = api.get(f"/workflows/{workflow}/settings").json()
        assert all(value is None for value in stored.values()), stored
        expect(form.get_by_label("Log level")).to_have_value("")
    finally:
        api.delete(f"/workflows/{workflow}/settings")
        api.delete(f"/workflows/{workflow}")


def test_settings_export_downloads_what_the_api_exports_and_an_edited_file_imports(
    console: Any, console_url: str, api: httpx.Client, tmp_path: Path
) -> None:
    workflow = log_workflow(api)
    assert api.put(f"/workflows/{workflow}/settings", json={"max_attempts": 3}).status_code == 200
    before = api.get("/settings").json()["settings"]["retention_interval_s"]
    wanted = 2468.0 if before != 2468.0 else 1357.0
    page = console
    open_settings(page, console_url)
    io = section(page, "Export and import")
    try:
        with page.expect_download() as info:
            io.get_by_role("link", name="Export settings").click()
        exported = tmp_path / "exported.json"
        info.value.save_as(exported)
        document = json.loads(exported.read_text())
        expected = api.get("/settings/export").json()
        assert document["format"] == "runtime-hub/settings-v1"
        assert document["settings"] == expected["settings"]
        assert document["workflow_overrides"][workflow]["max_attempts"] == 3
        assert "credentials" not in json.dumps(document).lower()

        # An edited copy, imported through the file input, changes the runtime.
        document["settings"]["retention_interval_s"] = wanted
        edited = tmp_path / "edited-settings.json"
        edited.write_text(json.dumps(document))
        io.get_by_label("Settings file to import").set_input_files(str(edited))
        io.get_by_role("button", name="Import settings").click()
        notice(page, "Imported edited-settings.json.")
        assert api.get("/settings").json()["settings"]["retention_interval_s"] == wanted
        # The runtime form above shows the imported value.
        expect(page.get_by_label("Prune every (s)")).to_have_value(str(int(wanted)))

        # A document the API refuses: its error is shown, and nothing changes.
        document["settings"]["max_concurrent_executions"] = 0
        document["settings"]["retention_interval_s"] = before
        broken = tmp_path / "broken-settings.json"
        broken.write_text(json.dumps(document))
        io.get_by_label("Settings file to import").set_input_files(str(broken))
        io.get_by_role("button", name="Import settings").click()
        alert = io.get_by_role("alert")
        alert.wait_for()
        text = alert.inner_text()
        assert "The settings were not imported" in text
        assert "invalid_request" in text and "max_concurrent_executions" in text
        assert api.get("/settings").json()["settings"]["retention_interval_s"] == wanted

        # A file that is not JSON at all is named as such.
        garbage = tmp_path / "garbage.json"
        garbage.write_text("{not json")
        io.get_by_label("Settings file to import").set_input_files(str(garbage))
        io.get_by_role("button", name="Import settings").click()
        io.get_by_role("alert").filter(has_text="garbage.json is not JSON").wait_for()
    finally:
        restored = api.put("/settings", json={"retention_interval_s": before})
        assert restored.status_code == 200, restored.text
        api.delete(f"/workflows/{workflow}/settings")
        api.delete(f"/workflows/{workflow}")


@pytest.mark.parametrize(
    "trigger",
    [
        {"id": "hook", "type": "webhook"},
        {"id": "tick", "type": "schedule", "every_s": 3600},
    ],
    ids=["webhook", "schedule"],
)
def test_fire_now_starts_an_execution_of_the_trigger(
    console: Any, console_url: str, api: httpx.Client, trigger: dict[str, Any]
) -> None:
    workflow = log_workflow(api, triggers=[trigger])
    name = f"{workflow}/{trigger['id']}"
    try:
        assert api.get("/executions", params={"workflow_id": workflow}).json()["items"] == []
        page = console
        open_settings(page, console_url)
        row = section(page, "Triggers").get_by_role("row", name=name)
        row.get_by_role("button", name=f"Fire trigger {name} now").click()
        page.wait_for_url(re.compile(rf"{re.escape(console_url)}/executions/[0-9a-f]+$"))
        execution_id = page.url.rsplit("/", 1)[1]
        items = api.get("/executions", params={"workflow_id": workflow}).json()["items"]
        assert [item["id"] for item in items] == [execution_id]
        record = api.get(f"/executions/{execution_id}").json()
        assert record["trigger"] == trigger["type"]
        assert record["trigger_info"]["id"] == trigger["id"]
        assert record["trigger_info"]["manual"] is True
    finally:
        api.delete(f"/workflows/{workflow}")


def test_an_open_circuit_breaker_is_listed_and_reset_closes_it(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    port = free_port()  # nothing listens there: each call is refused
    key = f"http:127.0.0.1:{port}"
    doc = wf(
        [
            {
                "id": "fetch",
                "type": "http",
                "parameters": {"url": f"http://127.0.0.1:{port}/ping", "timeout_s": 5},
            }
        ],
        settings={
            "circuit_breaker": {"enabled": True, "failure_threshold": 1, "reset_timeout_s": 600}
        },
    )
    create(api, doc)
    try:
        assert run_to_end(api, str(doc["id"]))["status"] == "failed"
        states = {b["key"]: b["state"] for b in api.get("/breakers").json()["items"]}
        assert states[key] == "open"

        page = console
        open_settings(page, console_url)
        breakers = section(page, "Circuit breakers")
        row = breakers.get_by_role("row", name=key)
        row.wait_for()
        assert row.get_by_role("cell").nth(0).inner_text() == "open"
        assert row.get_by_role("cell").nth(1).inner_text() == "1 of 1 in 60 s"
        assert "127.0.0.1" in row.get_by_role("cell").nth(4).inner_text()  # the last error
        check_accessibility(page, "settings-breakers")

        row.get_by_role("button", name=f"Reset breaker {key}").click()
        notice(page, f"Breaker {key} closed.")
        row.get_by_role("cell").nth(0).get_by_text("closed", exact=True).wait_for()
        states = {b["key"]: b["state"] for b in api.get("/breakers").json()["items"]}
        assert states[key] == "closed"
    finally:
        api.delete(f"/workflows/{doc['id']}")

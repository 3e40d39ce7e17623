"""The Settings screen in a real Chromium against the session's runtime: a setting changed through
the form, a bad value refused at its field, a gate the environment keeps closed, a write-only
credential, a schedule trigger's next fire and its enable/disable."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import check_accessibility
from tests.e2e.test_api import create, wf

NOTHING = "\u2013"  # what the console shows for a time that is not set

pytestmark = pytest.mark.ray


def notice(page: Any, text: str) -> None:
    """Wait for the screen's confirmation (the visible note; the live region repeats it)."""
    page.locator("p.ok-note", has_text=text).wait_for()


def open_settings(page: Any, console_url: str) -> None:
    page.goto(console_url + "/settings")
    page.get_by_role("heading", name="Runtime settings").wait_for()
    page.get_by_label("Prune every (s)").wait_for()


def test_a_setting_changed_in_the_form_is_saved(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    before = api.get("/settings").json()["settings"]["retention_interval_s"]
    wanted = 1234.0 if before != 1234.0 else 4321.0
    page = console
    open_settings(page, console_url)
    try:
        page.get_by_label("Prune every (s)").fill(str(int(wanted)))
        page.get_by_role("button", name="Save settings").click()
        notice(page, "Saved: retention_interval_s.")
        assert api.get("/settings").json()["settings"]["retention_interval_s"] == wanted
        # Saved values are what the form shows after a reload.
        page.reload()
        page.get_by_label("Prune every (s)").wait_for()
        assert page.get_by_label("Prune every (s)").input_value() == str(int(wanted))
    finally:
        restored = api.put("/settings", json={"retention_interval_s": before})
        assert restored.status_code == 200, restored.text


def test_an_invalid_value_is_shown_at_its_field_and_nothing_changes(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    before = api.get("/settings").json()["settings"]
    page = console
    open_settings(page, console_url)
    field = page.get_by_label("Max concurrent executions")
    field.fill("0")
    page.get_by_role("button", name="Save settings").click()
    error = page.locator("#setting-max_concurrent_executions-error")
    error.wait_for()
    assert "greater than or equal to 1" in error.inner_text()
    assert field.get_attribute("aria-invalid") == "true"
    assert "setting-max_concurrent_executions-error" in (
        field.get_attribute("aria-describedby") or ""
    )
    assert api.get("/settings").json()["settings"] == before
    # Settings that apply at the next start say so.
    warm = page.locator("#setting-warm_execution_actors-restart")
    assert "Restart needed" in warm.inner_text()
    assert page.locator("#setting-max_concurrent_executions-restart").count() == 0


def test_a_gate_the_environment_keeps_closed_shows_the_apis_message(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    assert api.get("/settings").json()["gates"]["amqp_control"]["environment"] is False
    page = console
    open_settings(page, console_url)
    page.get_by_label("Consume the AMQP control queue").check()
    page.get_by_role("button", name="Save settings").click()
    alert = page.get_by_role("alert").filter(has_text="gate_locked")
    alert.wait_for()
    assert "HUB_AMQP_CONTROL" in alert.inner_text()
    assert api.get("/settings").json()["settings"]["amqp_control"] is False


def test_a_credential_is_written_and_listed_without_its_value(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    name = f"console_cred_{uuid.uuid4().hex[:8]}"
    secret = f"s3cret-{uuid.uuid4().hex}"
    page = console
    open_settings(page, console_url)
    try:
        page.get_by_label("Credential name").fill(name)
        value = page.get_by_label("Credential value")
        assert value.get_attribute("type") == "password"
        value.fill(secret)
        page.get_by_role("button", name="Save credential").click()
        notice(page, f"Credential {name} saved.")
        page.get_by_role("row", name=re.compile(name)).wait_for()
        assert value.input_value() == ""  # not kept in the page once written
        listed = api.get("/credentials")
        assert name in {c["name"] for c in listed.json()["items"]}
        assert secret not in listed.text
        assert secret not in page.content()
        check_accessibility(page, "settings")
    finally:
        api.delete(f"/credentials/{name}")


def test_a_schedule_triggers_next_fire_is_listed_and_it_disables_and_enables(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    doc = wf(
        [{"id": "say", "type": "log", "parameters": {"message": "tick"}}],
        triggers=[{"id": "hourly", "type": "schedule", "every_s": 3600}],
    )
    create(api, doc)
    workflow = str(doc["id"])
    name = f"{workflow}/hourly"
    try:
        view = api.get("/triggers", params={"workflow_id": workflow}).json()["items"][0]
        assert view["next_fire_at"] is not None
        page = console
        open_settings(page, console_url)
        row = page.get_by_role("row", name=name)
        row.wait_for()
        cells = row.get_by_role("cell")
        assert cells.nth(0).inner_text() == "schedule"
        assert cells.nth(1).inner_text() == "running"
        assert cells.nth(2).inner_text() not in ("", NOTHING)  # the next fire time

        row.get_by_role("button", name=f"Disable trigger {name}").click()
        notice(page, f"Trigger {name} disabled")
        row.get_by_role("button", name=f"Enable trigger {name}").wait_for()
        off = api.get(f"/triggers/{workflow}/hourly").json()
        assert off["enabled"] is False and off["next_fire_at"] is None
        assert row.get_by_role("cell").nth(1).inner_text() == "disabled"
        assert row.get_by_role("cell").nth(2).inner_text() == NOTHING

        row.get_by_role("button", name=f"Enable trigger {name}").click()
        notice(page, f"Trigger {name} enabled")
        row.get_by_role("button", name=f"Disable trigger {name}").wait_for()
        assert api.get(f"/triggers/{workflow}/hourly").json()["enabled"] is True
    finally:
        api.delete(f"/workflows/{workflow}")

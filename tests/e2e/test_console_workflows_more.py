"""More of the Workflows screen and the run form in a real Chromium against the session's
runtime: a workflow that compiles with warnings, the run form's version selector, and saved
inputs updated with the form's current inputs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import check_accessibility
from tests.e2e.test_console_workflows import editor, field, put_text, unique

pytestmark = pytest.mark.ray


def test_a_workflow_with_warnings_compiles_registers_and_shows_each_warning(
    console: Any, console_url: str, api: Any
) -> None:
    workflow_id = unique("console-warn")
    # An error edge from a node whose on_error is not "branch" is never taken (bad_port, a
    # warning), so the node behind it can never run (unreachable_node, a warning).
    doc = {
        "id": workflow_id,
        "nodes": [
            {"id": "work", "type": "log", "parameters": {"message": "working"}},
            {"id": "rescue", "type": "log", "parameters": {"message": "rescued"}},
        ],
        "edges": [{"from": "work", "to": "rescue", "when": "error"}],
    }
    page = console
    page.goto(f"{console_url}/workflows/new")
    editor(page).wait_for()
    put_text(page, json.dumps(doc, indent=2))
    page.get_by_role("button", name="Validate").click()

    summary = page.locator("#compile-summary")
    summary.get_by_text("Compiles with 2 warnings").wait_for()
    assert "Success with warnings" in summary.inner_text()
    assert "warn-note" in (summary.get_attribute("class") or "")
    compilation = page.get_by_role("region", name="Compilation")
    port = compilation.get_by_role("button", name=re.compile(r"bad_port"))
    assert "Warning" in port.inner_text()
    assert "/edges/0/when" in port.inner_text()
    assert "never taken" in port.inner_text()
    unreachable = compilation.get_by_role("button", name=re.compile(r"unreachable_node"))
    assert "/nodes/1" in unreachable.inner_text()
    assert compilation.get_by_text("Error", exact=True).count() == 0  # no error badge
    check_accessibility(page, "workflow-editor-warnings")

    # Warnings do not stop it: it registers and is ready to run.
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"{console_url}/workflows/{workflow_id}")
    page.get_by_text("Registered as version 1.").wait_for()
    ready = page.get_by_role("region", name="Ready to run")
    ready.get_by_role("link", name=f"Run {workflow_id}").wait_for()
    stored = api.get(f"/workflows/{workflow_id}").json()
    codes = sorted(d["code"] for d in stored["compile"]["diagnostics"])
    assert codes == ["bad_port", "unreachable_node"]
    api.delete(f"/workflows/{workflow_id}")


def versioned_workflow(api: Any) -> str:
    """Version 1 takes `who`; version 2 also takes `extra`."""
    workflow_id = unique("console-versions")
    first: dict[str, Any] = {
        "id": workflow_id,
        "inputs": {"who": {"type": "string", "default": "Ada"}},
        "nodes": [{"id": "say", "type": "log", "parameters": {"message": "v1 {{ $input.who }}"}}],
        "edges": [],
    }
    second = {
        **first,
        "inputs": {**first["inputs"], "extra": {"type": "integer", "default": 5}},
        "nodes": [{"id": "say", "type": "log", "parameters": {"message": "v2 {{ $input.who }}"}}],
    }
    for path, doc, version in (
        ("/workflows", first, "1"),
        (f"/workflows/{workflow_id}/versions", second, "2"),  # a changed document: next version
    ):
        saved = api.post(path, json=doc)
        assert saved.status_code == 201, saved.text
        assert str(saved.json()["workflow"]["version"]) == version
    return workflow_id


def started_execution(page: Any, console_url: str, api: Any) -> dict[str, Any]:
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(rf"{re.escape(console_url)}/executions/[0-9a-f]+$"))
    record: dict[str, Any] = api.get(f"/executions/{page.url.rsplit('/', 1)[1]}").json()
    return record


def test_the_version_selector_runs_the_chosen_version(
    console: Any, console_url: str, api: Any
) -> None:
    workflow_id = versioned_workflow(api)
    page = console
    page.goto(f"{console_url}/workflows/{workflow_id}/run")
    version = page.get_by_label("Version")
    version.wait_for()
    assert version.evaluate("e => [...e.options].map(o => o.text)") == ["Latest (2)", "1", "2"]
    field(page, "extra").wait_for()  # the latest version's form

    version.select_option("1")
    field(page, "extra").wait_for(state="detached")  # version 1's form has no `extra`
    expect(field(page, "who")).to_have_value("Ada")
    field(page, "who").fill("Grace")
    old = started_execution(page, console_url, api)
    assert old["workflow_id"] == workflow_id
    assert str(old["workflow_version"]) == "1"
    assert old["inputs"] == {"who": "Grace"}

    page.goto(f"{console_url}/workflows/{workflow_id}/run")
    field(page, "extra").fill("7")
    latest = started_execution(page, console_url, api)
    assert str(latest["workflow_version"]) == "2"
    assert latest["inputs"] == {"who": "Ada", "extra": 7}
    api.delete(f"/workflows/{workflow_id}")


def test_update_with_current_inputs_replaces_the_saved_set(
    console: Any, console_url: str, api: Any
) -> None:
    workflow_id = versioned_workflow(api)
    page = console
    page.goto(f"{console_url}/workflows/{workflow_id}/run")
    saved = page.get_by_role("region", name="Saved inputs")
    field(page, "who").fill("Grace")
    page.get_by_label("Name for the current inputs").fill("team")
    page.get_by_role("button", name="Save current inputs").click()
    saved.get_by_text("Saved “team”").wait_for()
    (item,) = api.get(f"/workflows/{workflow_id}/saved-inputs").json()["items"]
    assert item["inputs"] == {"who": "Grace", "extra": 5}

    field(page, "who").fill("Linus")
    field(page, "extra").fill("9")
    expect(page.get_by_label("Saved configuration")).to_have_value(item["id"])
    saved.get_by_role("button", name="Update with current inputs").click()
    saved.get_by_text("Updated “team”").wait_for()
    (updated,) = api.get(f"/workflows/{workflow_id}/saved-inputs").json()["items"]
    assert updated["id"] == item["id"] and updated["name"] == "team"
    assert updated["inputs"] == {"who": "Linus", "extra": 9}

    # Loading it after a reload fills the form with the updated set.
    page.reload()
    page.get_by_label("Saved configuration").select_option(item["id"])
    saved.get_by_role("button", name="Load").click()
    expect(field(page, "who")).to_have_value("Linus")
    expect(field(page, "extra")).to_have_value("9")
    api.delete(f"/workflows/{workflow_id}")

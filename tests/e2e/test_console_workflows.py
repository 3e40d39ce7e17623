"""The console's compilation status screen and run-input form in a real Chromium against the
session's runtime: diagnostics that move the editor's cursor, registering and versions, a form
generated from the input schema with browser-side and server-side field errors, saved inputs
without secrets, and a run that lands on its execution's page."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import check_accessibility

pytestmark = pytest.mark.ray


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def editor(page: Any) -> Any:
    return page.get_by_role("textbox", name="Workflow JSON")


def put_text(page: Any, text: str) -> None:
    """Replace the editor's text, as pasting it would."""
    box = editor(page)
    box.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def test_an_invalid_workflow_shows_diagnostics_that_jump_then_registers_once_fixed(
    console: Any, console_url: str, api: Any
) -> None:
    page = console
    workflow_id = unique("console-edit")
    broken = {
        "id": workflow_id,
        "nodes": [
            {"id": "fetch", "type": "http", "parameters": {"url": "https://{{ $nope.host }}/x"}},
            {"id": "done", "type": "log", "parameters": {"message": "fetched"}},
        ],
        "edges": [{"from": "fetch", "to": "ghost"}],
    }
    text = json.dumps(broken, indent=2)
    page.goto(f"{console_url}/workflows/new")
    editor(page).wait_for()
    put_text(page, text)
    editor(page).press("ControlOrMeta+s")  # compile on save

    compilation = page.get_by_role("region", name="Compilation")
    reference = compilation.get_by_role("button", name=re.compile(r"bad_reference"))
    reference.wait_for()
    assert "/nodes/0/parameters/url" in reference.inner_text()
    assert "$nope" in reference.inner_text()
    edge = compilation.get_by_role("button", name=re.compile(r"unknown_edge_endpoint"))
    assert "/edges/0/to" in edge.inner_text()
    assert "Errors" in compilation.inner_text()
    assert "Not ready to run" in page.get_by_role("region", name="Ready to run").inner_text()
    check_accessibility(page, "workflow-editor-diagnostics")

    # Clicking a diagnostic puts the editor's cursor on the key its path names.
    reference.click()
    line, column = line_and_column(text, text.index('"url"'))
    cursor = page.locator("#cursor-position")
    assert cursor.inner_text() == f"Cursor: line {line}, column {column}"
    assert page.evaluate("document.activeElement.classList.contains('cm-content')")
    # Enter on another one (keyboard) moves it to that place.
    edge.focus()
    page.keyboard.press("Enter")
    line, column = line_and_column(text, text.index('"to"'))
    assert cursor.inner_text() == f"Cursor: line {line}, column {column}"

    # JSON that does not parse: the state says where.
    put_text(page, '{\n  "id": "x",\n  "nodes": [1 2]\n}')
    page.get_by_role("button", name="Validate").click()
    summary = page.locator("#compile-summary")
    summary.get_by_text("Not valid JSON at line 3, column 15").wait_for()  # at the "2"
    page.get_by_role("button", name="Go to line 3, column 15").click()
    assert cursor.inner_text() == "Cursor: line 3, column 15"

    # Fixed: it compiles, shows its plan and input schema, and registers.
    fixed: dict[str, Any] = {
        "id": workflow_id,
        "inputs": {"who": {"type": "string", "required": True}},
        "nodes": [
            {"id": "first", "type": "log", "parameters": {"message": "hi {{ $input.who }}"}},
            {"id": "second", "type": "log", "parameters": {"message": "bye"}},
        ],
        "edges": [{"from": "first", "to": "second"}],
    }
    put_text(page, json.dumps(fixed, indent=2))
    page.get_by_role("button", name="Validate").click()
    summary.get_by_text("Compiles without problems").wait_for()
    assert "Success" in summary.inner_text()
    levels = page.get_by_role("region", name="Compiled plan").inner_text()
    assert "Level 1: first" in levels and "Level 2: second" in levels
    schema = page.get_by_role("region", name="Input schema")
    assert schema.get_by_role("rowheader", name="who").is_visible()

    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"{console_url}/workflows/{workflow_id}")
    page.get_by_text("Registered as version 1.").wait_for()
    ready = page.get_by_role("region", name="Ready to run")
    ready.get_by_role("link", name=f"Run {workflow_id}").wait_for()
    assert "Ready to run: version 1 is registered and compiles." in ready.inner_text()
    assert api.get(f"/workflows/{workflow_id}").json()["workflow"]["definition"] == fixed

    # A changed workflow registers as a new version; the old one opens read-only.
    changed = {**fixed, "nodes": [fixed["nodes"][0], {**fixed["nodes"][1], "name": "Bye"}]}
    put_text(page, json.dumps(changed, indent=2))
    assert "not registered" in ready.inner_text()
    page.get_by_role("button", name="Register").click()
    page.get_by_text("Registered as version 2.").wait_for()
    ready.get_by_text("Ready to run: version 2").wait_for()
    assert api.get(f"/workflows/{workflow_id}/versions").json()["versions"] == ["1", "2"]
    page.get_by_label("Version").select_option("1")
    page.get_by_text("Version 1 is an older version and is shown read-only.").wait_for()
    assert page.get_by_role("button", name="Register").is_disabled()

    page.goto(f"{console_url}/workflows")
    row = page.get_by_role("row", name=re.compile(workflow_id))
    row.get_by_role("link", name=workflow_id, exact=True).wait_for()
    assert "2" in row.get_by_role("cell").nth(1).inner_text()
    check_accessibility(page, "workflows")
    row.get_by_role("link", name=f"Run {workflow_id}").click()
    page.wait_for_url(f"{console_url}/workflows/{workflow_id}/run")
    api.delete(f"/workflows/{workflow_id}")


FORM_WORKFLOW: dict[str, Any] = {
    "inputs": {
        "name": {"type": "string", "required": True, "pattern": "^[A-Z]"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150, "default": 30},
        "level": {"type": "string", "enum": ["low", "high"], "default": "low"},
        # (?i) is Python's inline flag: JavaScript cannot read this pattern, only the server.
        "code": {"type": "string", "pattern": "(?i)^ab+$"},
        "token": {"type": "string", "secret": True, "description": "An API key"},
        "tags": {"type": "array"},
        "verbose": {"type": "boolean", "default": False},
    },
    "nodes": [{"id": "greet", "type": "log", "parameters": {"message": "hi {{ $input.name }}"}}],
    "edges": [],
}


def register_form_workflow(api: Any) -> str:
    workflow_id = unique("console-run")
    created = api.post("/workflows", json={"id": workflow_id, **FORM_WORKFLOW})
    assert created.status_code == 201, created.text
    return workflow_id


def field(page: Any, name: str) -> Any:
    return page.get_by_label(re.compile(rf"^{name}\b"))


def test_the_run_form_shows_browser_and_server_field_errors_then_starts_the_run(
    console: Any, console_url: str, api: Any
) -> None:
    page = console
    workflow_id = register_form_workflow(api)
    page.goto(f"{console_url}/workflows/{workflow_id}/run")
    name = field(page, "name")
    name.wait_for()
    assert name.get_attribute("aria-required") == "true"
    assert field(page, "age").input_value() == "30"  # the default
    level = field(page, "level")
    assert level.evaluate("e => e.tagName") == "SELECT"
    assert level.evaluate("e => [...e.options].map(o => o.text)") == ["low", "high"]
    assert field(page, "token").get_attribute("type") == "password"

    # The browser checks what the schema says before anything is sent.
    name.fill("Ada")
    field(page, "age").fill("200")
    page.get_by_role("button", name="Start run").click()
    age = field(page, "age")
    page.get_by_text("Must be at most 150.").wait_for()
    assert age.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == age.get_attribute("id")
    assert page.get_by_role("alert").first.is_visible()
    check_accessibility(page, "run-form-field-error")
    runs = api.get("/executions", params={"workflow_id": workflow_id}).json()["items"]
    assert runs == []

    # The server catches what the browser cannot: its 422 lands at the field.
    age.fill("40")
    field(page, "code").fill("xyz")
    page.get_by_role("button", name="Start run").click()
    code = field(page, "code")
    error = page.locator(f"#{code.get_attribute('id')}-error")
    error.wait_for()
    assert "does not match" in error.inner_text()
    assert code.get_attribute("aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == code.get_attribute("id")
    assert age.get_attribute("aria-invalid") is None

    # Good inputs: the run starts and the page moves to its execution.
    code.fill("ABBB")
    field(page, "token").fill("tok-9f2e7c")
    field(page, "tags").fill('["a", "b"]')
    level.select_option("high")
    page.get_by_label("Timeout in seconds (optional)").fill("120")
    page.get_by_label("Debug: pause at breakpoints").check()
    page.get_by_role("button", name="Add breakpoint").click()
    page.get_by_label("Step 1").select_option("greet")
    page.get_by_label("Condition 1 (optional)").fill("$input.age > 10")
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url(re.compile(rf"{re.escape(console_url)}/executions/[0-9a-f]+$"))
    execution_id = page.url.rsplit("/", 1)[1]
    execution = api.get(f"/executions/{execution_id}").json()
    assert execution["workflow_id"] == workflow_id
    assert execution["inputs"]["name"] == "Ada"
    assert execution["inputs"]["age"] == 40
    assert execution["inputs"]["level"] == "high"
    assert execution["inputs"]["tags"] == ["a", "b"]
    assert execution["inputs"]["token"] == "***"
    assert execution["settings"]["options"]["timeout_s"] == 120
    assert execution["settings"]["options"]["debug"] is True
    assert execution["settings"]["options"]["breakpoints"] == [
        {"node_id": "greet", "condition": "$input.age > 10"}
    ]
    api.post(f"/executions/{execution_id}/cancel")  # it waits at its breakpoint
    api.delete(f"/workflows/{workflow_id}")


def test_saved_inputs_save_load_and_delete_and_never_hold_a_secret(
    console: Any, console_url: str, api: Any
) -> None:
    page = console
    workflow_id = register_form_workflow(api)
    page.goto(f"{console_url}/workflows/{workflow_id}/run")
    saved = page.get_by_role("region", name="Saved inputs")
    field(page, "name").fill("Grace")
    field(page, "age").fill("44")
    field(page, "token").fill("sek-51d0aa")
    page.get_by_label("Name for the current inputs").fill("grace")
    page.get_by_role("button", name="Save current inputs").click()
    saved.get_by_text("Saved “grace”").wait_for()

    listed = api.get(f"/workflows/{workflow_id}/saved-inputs")
    assert "sek-51d0aa" not in listed.text
    (item,) = listed.json()["items"]
    assert item["name"] == "grace"
    assert item["inputs"]["name"] == "Grace"
    assert item["inputs"]["age"] == 44
    assert "token" not in item["inputs"]

    # Loading it fills the form again.
    field(page, "name").fill("Other")
    field(page, "age").fill("1")
    page.get_by_label("Saved configuration").select_option(label="grace")
    page.get_by_role("button", name="Load").click()
    saved.get_by_text("Loaded “grace”.").wait_for()
    assert field(page, "name").input_value() == "Grace"
    assert field(page, "age").input_value() == "44"

    # Updating it stores the current inputs under the same name.
    field(page, "age").fill("45")
    page.get_by_role("button", name="Update with current inputs").click()
    saved.get_by_text("Updated “grace”").wait_for()
    (item,) = api.get(f"/workflows/{workflow_id}/saved-inputs").json()["items"]
    assert item["inputs"]["age"] == 45

    page.get_by_role("button", name="Delete").click()
    saved.get_by_text("Deleted “grace”.").wait_for()
    assert api.get(f"/workflows/{workflow_id}/saved-inputs").json()["items"] == []
    saved.get_by_text("No saved inputs for this workflow yet.").wait_for()
    api.delete(f"/workflows/{workflow_id}")

"""The execution page of the web console in a real Chromium against the session's runtime: the
live monitor (graph driven by the event stream), the detail, step debugging, live logs, error
recovery, and the error patterns page."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import check_accessibility
from tests.e2e.test_api import chain, create, start, wait_for

pytestmark = pytest.mark.ray
expect.set_options(timeout=30_000)


def workflow(
    nodes: list[dict[str, Any]], edges: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {"id": f"console-exec-{uuid.uuid4().hex[:10]}", "nodes": nodes, "edges": edges, **extra}


def open_execution(page: Any, console_url: str, execution_id: str, tab: str = "") -> None:
    page.goto(f"{console_url}/executions/{execution_id}{'#' + tab if tab else ''}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(execution_id[:12])


def header_status(page: Any) -> Any:
    return page.locator(".exec-facts")


def test_monitor_follows_a_run_live_to_completed_and_detail_shows_it(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    secret = f"s3cret-{uuid.uuid4().hex[:8]}"
    doc = workflow(
        [
            {
                "id": "greet",
                "type": "set",
                "parameters": {
                    "values": {"text": "Hello {{ $input.name }}", "auth": "{{ $input.token }}"}
                },
            },
            {"id": "wait", "type": "delay", "parameters": {"seconds": 2.5}},
            {"id": "shout", "type": "log", "parameters": {"message": "{{ $greet.text }}!"}},
            {"id": "done", "type": "merge"},
        ],
        [*chain("greet", "wait", "done"), *chain("greet", "shout", "done")],
        inputs={
            "name": {"type": "string", "required": True},
            "token": {"type": "string", "secret": True},
        },
    )
    create(api, doc)
    execution_id = start(api, doc["id"], {"name": "Ada", "token": secret})
    page = console
    open_execution(page, console_url, execution_id)

    # Live: the delay is seen running before everything completes.
    expect(page.get_by_role("button", name="wait: running")).to_be_visible()
    expect(header_status(page)).to_contain_text("Running")
    expect(header_status(page)).to_contain_text("Completed")
    for node in ("greet", "wait", "shout", "done"):
        expect(page.get_by_role("button", name=f"{node}: completed")).to_be_visible()
    expect(page.get_by_text("4/4 steps done")).to_be_visible()
    progress = page.locator("progress#exec-progress")
    assert progress.get_attribute("value") == "4" and progress.get_attribute("max") == "4"
    outputs = page.get_by_role("region", name="Outputs", exact=True)
    expect(outputs).to_contain_text("Hello Ada")
    assert secret not in page.content()
    timeline = page.get_by_role("table", name="Step timeline")
    expect(timeline.get_by_role("row")).to_have_count(5)  # the header and four steps
    # Cancel, pause and resume are all off for a finished run.
    for name in ("Cancel", "Pause", "Resume"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_disabled()
    check_accessibility(page, "execution-monitor")

    # Keyboard: arrows move between steps, Enter opens the step's detail.
    page.get_by_role("button", name="greet: completed").focus()
    page.keyboard.press("ArrowRight")
    focused = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert focused in ("wait: completed", "shout: completed"), focused
    page.get_by_role("button", name="greet: completed").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("tab", name="Detail")).to_have_attribute("aria-selected", "true")
    step = page.locator("details#step-greet")
    expect(step).to_have_attribute("open", "")
    expect(step.get_by_label("Output of greet")).to_contain_text("Hello Ada")
    expect(step.get_by_label("Input of greet")).to_contain_text('"auth": "***"')
    inputs = page.get_by_role("region", name="Inputs", exact=True)
    expect(inputs).to_contain_text('"token": "***"')
    expect(inputs).to_contain_text('"name": "Ada"')
    assert secret not in page.content()
    expect(page.get_by_text("started directly")).to_be_visible()
    check_accessibility(page, "execution-detail")


def debug_doc() -> dict[str, Any]:
    return workflow(
        [
            {"id": "a", "type": "set", "parameters": {"values": {"x": "{{ $input.n * 2 }}"}}},
            {"id": "b", "type": "set", "parameters": {"values": {"y": "{{ $a.x + 1 }}"}}},
            {"id": "c", "type": "log", "parameters": {"message": "y={{ $b.y }}"}},
        ],
        chain("a", "b", "c"),
        inputs={"n": {"type": "integer", "default": 3}},
    )


def test_debug_a_run_at_a_breakpoint_evaluate_step_continue(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    doc = debug_doc()
    create(api, doc)
    execution_id = start(api, doc["id"], debug=True, breakpoints=["b"])
    page = console
    open_execution(page, console_url, execution_id)
    expect(header_status(page)).to_contain_text("Paused")
    page.get_by_role("tab", name="Debug").click()
    panel = page.get_by_role("tabpanel", name="Debug")
    expect(panel.get_by_text("Paused at a breakpoint before b.")).to_be_visible()
    expect(panel.get_by_label("Parameters of b")).to_contain_text('"y": 7')
    expect(panel.get_by_role("button", name="b: paused, breakpoint")).to_be_visible()
    expect(panel.get_by_role("region", name="Outputs so far")).to_contain_text('"x": 6')

    panel.get_by_label("Expression").fill("$a.x * 10 + $input.n")
    panel.get_by_role("button", name="Evaluate").click()
    expect(panel.get_by_role("status").get_by_label("Value")).to_have_text("63")
    panel.get_by_label("Expression").fill("$a.x +")
    panel.get_by_role("button", name="Evaluate").click()
    expect(panel.get_by_role("alert")).to_contain_text("expression_error")
    expect(panel.get_by_label("Expression")).to_have_attribute("aria-invalid", "true")
    check_accessibility(page, "execution-debug")

    # A breakpoint set from the graph is stored on the run.
    panel.get_by_role("button", name="c: queued").click()
    expect(panel.get_by_role("button", name="c: queued, breakpoint")).to_be_visible()
    expect(panel.get_by_label("Stop before c")).to_be_checked()
    # The graph shows it at once; the PUT that stores it may still be on its way.
    deadline = time.monotonic() + 30
    while True:
        debug = api.get(f"/executions/{execution_id}/debug").json()
        stored = {b["node_id"] for b in debug["breakpoints"]}
        if stored == {"b", "c"} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert stored == {"b", "c"}

    panel.get_by_role("button", name="Step", exact=True).click()
    expect(panel.get_by_text("before c.")).to_be_visible()
    expect(panel.get_by_role("button", name="b: completed, breakpoint")).to_be_visible()
    expect(panel.get_by_role("region", name="Outputs so far")).to_contain_text('"y": 7')
    # Cleared again (the checkbox), so that Continue runs to the end.
    panel.get_by_label("Stop before c").uncheck()
    expect(panel.get_by_role("button", name="c: paused", exact=True)).to_be_visible()
    panel.get_by_role("button", name="Continue").click()
    expect(header_status(page)).to_contain_text("Completed")
    page.get_by_role("tab", name="Monitor").click()
    for node in ("a", "b", "c"):
        expect(page.get_by_role("button", name=f"{node}: completed")).to_be_visible()
    assert wait_for(api, execution_id)["outputs"]["c"]["message"] == "y=7"


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    yield port


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_recover_a_failed_http_step_by_retrying_once_the_service_is_up(
    console: Any, console_url: str, api: httpx.Client, closed_port: int
) -> None:
    doc = workflow(
        [
            {"id": "prepare", "type": "set", "parameters": {"values": {"path": "/health"}}},
            {
                "id": "call",
                "type": "http",
                "retry": {"max_attempts": 1},
                "parameters": {
                    "url": f"http://127.0.0.1:{closed_port}{{{{ $prepare.path }}}}",
                    "timeout_s": 5,
                },
            },
            {"id": "report", "type": "log", "parameters": {"message": "ok={{ $call.body.ok }}"}},
        ],
        chain("prepare", "call", "report"),
    )
    create(api, doc)
    failed = wait_for(api, start(api, doc["id"]))
    assert failed["status"] == "failed", failed
    page = console
    open_execution(page, console_url, failed["id"])
    expect(header_status(page)).to_contain_text("Failed")
    expect(page.get_by_role("button", name="call: failed")).to_be_visible()
    expect(page.get_by_role("button", name="prepare: completed")).to_be_visible()
    page.get_by_role("tab", name="Recovery").click()
    panel = page.get_by_role("tabpanel", name="Recovery")
    category = failed["error"]["category"]
    expect(panel.get_by_role("region", name="What went wrong")).to_contain_text(category)
    for suggestion in failed["error"]["suggestions"]:
        expect(panel.get_by_text(suggestion, exact=True)).to_be_visible()
    # The parameters editor starts from the document's parameters of the failed step.
    parameters = {"url": f"http://127.0.0.1:{closed_port}{{{{ $prepare.path }}}}", "timeout_s": 5}
    expect(panel.get_by_label("Parameters of call")).to_have_value(json.dumps(parameters, indent=2))
    check_accessibility(page, "execution-recovery")

    # Fix the cause: the service comes up on that port; then retry from the failed step.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", closed_port), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        panel.get_by_role("button", name="Retry from failed step").click()
        expect(page).not_to_have_url(f"{console_url}/executions/{failed['id']}")
        expect(header_status(page)).to_contain_text("Completed")
        for node in ("prepare", "call", "report"):
            expect(page.get_by_role("button", name=f"{node}: completed")).to_be_visible()
    finally:
        server.shutdown()
        server.server_close()
    new_id = page.url.rsplit("/", 1)[-1].split("#")[0]
    record = api.get(f"/executions/{new_id}").json()
    assert record["parent_id"] == failed["id"] and record["origin"]["kind"] == "retry"
    assert record["outputs"]["report"]["message"] == "ok=true"
    page.get_by_role("tab", name="Detail").click()
    parent = page.get_by_role("link", name=f"execution {failed['id'][:12]}")
    expect(parent).to_be_visible()
    parent.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(failed["id"][:12])
    page.get_by_role("tab", name="Detail").click()
    expect(page.get_by_role("link", name=f"execution {new_id[:12]}")).to_be_visible()


def test_skip_a_failed_step_with_a_substitute_output_and_see_the_error_patterns(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    marker = f"broken-{uuid.uuid4().hex[:6]}"
    doc = workflow(
        [
            {"id": "boom", "type": "fail", "parameters": {"message": f"{marker} 17 times"}},
            {"id": "after", "type": "log", "parameters": {"message": "after {{ $boom.x }}"}},
        ],
        chain("boom", "after"),
    )
    create(api, doc)
    failed = wait_for(api, start(api, doc["id"]))
    page = console
    open_execution(page, console_url, failed["id"], "recovery")
    panel = page.get_by_role("tabpanel", name="Recovery")
    expect(panel.get_by_role("region", name="What went wrong")).to_contain_text(
        f"{marker} 17 times"
    )
    expect(panel.get_by_role("region", name="What went wrong")).to_contain_text("node_error")

    # A parameters document that is no JSON object is refused at the field, nothing starts.
    editor = panel.get_by_label("Parameters of boom")
    editor.fill('{"message": ')
    panel.get_by_role("button", name="Retry this step with edited parameters").click()
    expect(editor).to_have_attribute("aria-invalid", "true")
    expect(panel.get_by_role("alert")).to_contain_text("not valid JSON")
    # One the compiler refuses is shown at the field too.
    editor.fill('{"message": "{{ $nope + }}"}')
    panel.get_by_role("button", name="Retry this step with edited parameters").click()
    expect(panel.get_by_role("alert")).to_contain_text("message")
    assert page.url.endswith(f"/executions/{failed['id']}#recovery")

    panel.get_by_label("Output to use for boom").fill('{"x": 42}')
    panel.get_by_role("button", name="Skip with substitute output").click()
    expect(page).not_to_have_url(f"{console_url}/executions/{failed['id']}#recovery")
    expect(header_status(page)).to_contain_text("Completed")
    expect(page.get_by_role("button", name="after: completed")).to_be_visible()
    expect(page.get_by_role("region", name="Outputs", exact=True)).to_contain_text("after 42")

    page.get_by_role("link", name="Errors", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Error patterns")).to_be_visible()
    page.get_by_label("Workflow id").fill(doc["id"])
    page.get_by_role("button", name="Apply").click()
    table = page.get_by_role("table", name="Error patterns, most frequent first")
    row = table.get_by_role("row").filter(has_text=marker)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("node_error")
    expect(row).to_contain_text("boom")
    check_accessibility(page, "error-patterns")
    row.get_by_role("link", name=f"execution {failed['id'][:12]}").click()
    expect(page.get_by_role("tab", name="Recovery")).to_have_attribute("aria-selected", "true")


def test_live_logs_stream_filter_search_and_download(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    doc = workflow(
        [
            {"id": "hello", "type": "log", "parameters": {"message": "first line info"}},
            {
                "id": "careful",
                "type": "log",
                "parameters": {"message": "watch out, a warning", "level": "warn"},
            },
            {"id": "wait", "type": "delay", "parameters": {"seconds": 4}},
            {"id": "late", "type": "log", "parameters": {"message": "late line after the wait"}},
        ],
        chain("hello", "careful", "wait", "late"),
    )
    create(api, doc)
    execution_id = start(api, doc["id"])
    page = console
    open_execution(page, console_url, execution_id, "logs")
    logs = page.get_by_role("region", name="Log entries")
    expect(logs).to_contain_text("first line info")
    expect(logs).not_to_contain_text("late line")  # not written yet: the run is waiting
    expect(logs).to_contain_text("late line after the wait")  # arrived live
    expect(header_status(page)).to_contain_text("Completed")

    page.get_by_label("Level").select_option("warn")
    expect(logs).to_contain_text("watch out, a warning")
    expect(logs).not_to_contain_text("first line info")
    expect(logs).not_to_contain_text("late line")
    page.get_by_label("Level").select_option("debug")
    page.get_by_label("Search").fill("LINE")
    expect(logs.locator("mark")).to_have_count(2)
    expect(logs.locator("mark").first).to_have_text("line")
    expect(logs).not_to_contain_text("watch out")
    check_accessibility(page, "execution-logs")

    link = page.get_by_role("link", name="Download log (text)")
    with page.expect_download() as download:
        link.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "first line info" in text and "late line after the wait" in text
    assert "watch out" not in text  # the search applies to the download too


def test_the_monitor_says_when_a_sleeping_execution_wakes(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    before = api.get("/settings").json()["settings"]["park_delay_s"]
    assert api.put("/settings", json={"park_delay_s": 1}).status_code == 200
    try:
        doc = workflow([{"id": "nap", "type": "delay", "parameters": {"seconds": 4}}], [])
        create(api, doc)
        execution_id = start(api, doc["id"])
        open_execution(console, console_url, execution_id)
        facts = header_status(console)
        expect(facts).to_contain_text("sleeping until")
        expect(console.get_by_role("button", name="Pause")).to_be_disabled()
        expect(facts).to_contain_text("Completed")
        expect(facts).not_to_contain_text("sleeping until")
    finally:
        assert api.put("/settings", json={"park_delay_s": before}).status_code == 200


def test_a_foreach_s_items_are_folded_under_it_in_the_detail(
    console: Any, console_url: str, api: httpx.Client
) -> None:
    per_item = {"type": "set", "parameters": {"values": {"tenth": "{{ 10 / $item }}"}}}
    doc = workflow(
        [
            {
                "id": "each",
                "type": "foreach",
                "parameters": {
                    "items": [1, 0, 2, 5],
                    "node": per_item,
                    "on_item_error": "continue",
                },
            }
        ],
        [],
    )
    create(api, doc)
    execution_id = start(api, doc["id"], {})
    wait_for(api, execution_id)
    page = console
    open_execution(page, console_url, execution_id, "detail")
    items = page.locator("details#items-each")
    summary = items.locator(":scope > summary")
    expect(summary).to_contain_text("items: 3 completed, 1 failed")
    # The graph and the step list show the foreach once, not its items as nodes.
    expect(page.locator("details#step-each")).to_have_count(1)
    summary.click()
    rows = items.locator("details.step-detail")
    expect(rows).to_have_count(4)
    expect(rows.first.locator("summary")).to_contain_text("each[1]")  # failed ones first
    check_accessibility(page, "execution-foreach-items")

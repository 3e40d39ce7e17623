"""The core desktop scenario end to end: a real Tk window on Xvfb, the runtime's DesktopActor
capturing it with mss, reading it with OCR, and clicking its button with pynput."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hub
from tests.e2e.xvfb import DesktopApp, running_app, wait_until, xdotool

pytestmark = pytest.mark.ray


@pytest.fixture()
def app(x_display: str | None, tmp_path: Path) -> Iterator[DesktopApp]:
    if x_display is None:
        pytest.skip(
            "Xvfb is not installed here (the test command installs it: apt-get install xvfb)"
        )
    with running_app(x_display, tmp_path / "app", number=7) as window:
        xdotool(x_display, "mousemove", "512", "400")  # away from the corners (kill switch)
        yield window


def show(app: DesktopApp, number: int) -> None:
    """Set the window's number and give it time to repaint (it polls every 100 ms)."""
    app.set_number(number)
    time.sleep(0.5)


def config(app: DesktopApp, **extra: Any) -> dict[str, Any]:
    left, top, width, height = app.rects["number"]
    x, y = app.centre("button")
    base = {
        "region": {"left": left, "top": top, "width": width, "height": height},
        "threshold": 42,
        "click_x": x,
        "click_y": y,
        "interval_ms": 100,
        "max_duration_s": 60,
        "backend": "rapidocr",
    }
    return {**base, **extra}


def events(runtime: hub.Client, session_id: str) -> list[hub.Event]:
    return list(runtime.watch(session_id))


def steady_clicks(app: DesktopApp, settle_s: float = 1.5) -> int:
    """Clicks once they stop changing for ``settle_s`` (the session may be mid-cycle)."""
    last = app.clicks()
    while True:
        time.sleep(settle_s)
        now = app.clicks()
        if now == last:
            return now
        last = now


def test_clicks_only_while_a_number_is_over_42(runtime: hub.Client, app: DesktopApp) -> None:
    app.set_number(12)
    record = runtime.clicker_start(config(app))
    try:
        time.sleep(1.0)
        assert app.clicks() == 0  # 12 is not over 42
        app.set_number(57)
        wait_until(lambda: app.clicks() >= 2, timeout_s=20, what="clicks at 57")
        app.set_number(30)
        stopped_at = steady_clicks(app)
        time.sleep(1.0)
        assert app.clicks() == stopped_at  # back under the threshold: no more clicks
        app.set_number(99)
        wait_until(lambda: app.clicks() > stopped_at, timeout_s=20, what="clicks at 99")
    finally:
        summary = runtime.clicker_stop(record.id)
    assert summary["running"] is False
    assert summary["metrics"]["clicks"] == app.clicks()
    assert summary["metrics"]["ocr_skipped"] > 0  # unchanged frames were not read again
    kinds = {e.type for e in events(runtime, record.id)}
    assert {
        "session_started",
        "screen_captured",
        "ocr_completed",
        "number_detected",
        "click_executed",
        "session_stopped",
    } <= kinds
    stored = runtime.get(record.id)
    assert stored.status == "completed" and stored.outputs["metrics"]["clicks"] == app.clicks()


def test_dry_run_clicks_nothing_but_records_it(runtime: hub.Client, app: DesktopApp) -> None:
    app.set_number(77)
    record = runtime.clicker_start(config(app, dry_run=True, max_clicks=3))
    wait_until(
        lambda: not runtime.clicker_session(record.id)["running"],
        timeout_s=30,
        what="the session to end after 3 clicks",
    )
    assert app.clicks() == 0
    clicks = [e for e in events(runtime, record.id) if e.type == "click_executed"]
    assert len(clicks) == 3 and all(e.data["dry_run"] for e in clicks)
    assert runtime.clicker_session(record.id)["stop_reason"] == "max_clicks (3) reached"


def test_kill_switch_stops_the_session(
    runtime: hub.Client, app: DesktopApp, x_display: str
) -> None:
    app.set_number(12)
    record = runtime.clicker_start(config(app))
    time.sleep(0.5)
    xdotool(x_display, "mousemove", "0", "0")
    wait_until(
        lambda: not runtime.clicker_session(record.id)["running"],
        timeout_s=20,
        what="the kill switch to stop the session",
    )
    assert runtime.clicker_session(record.id)["stop_reason"] == "kill switch"
    assert runtime.get(record.id).status == "cancelled"
    app.set_number(88)
    time.sleep(1.0)
    assert app.clicks() == 0
    xdotool(x_display, "mousemove", "512", "400")


def test_one_session_controls_the_mouse(runtime: hub.Client, app: DesktopApp) -> None:
    app.set_number(1)
    first = runtime.clicker_start(config(app))
    try:
        with pytest.raises(hub.HubError, match="already controls the mouse"):
            runtime.clicker_start(config(app))
    finally:
        runtime.clicker_stop(first.id)
    with pytest.raises(hub.HubError, match=r"out of|does not fit|outside"):
        runtime.clicker_start(
            config(app, region={"left": 1000, "top": 700, "width": 400, "height": 100})
        )


def test_a_workflow_reads_the_window_and_clicks_by_text(
    runtime: hub.Client, app: DesktopApp
) -> None:
    show(app, 64)
    left, top, width, height = app.rects["window"]
    doc = {
        "id": f"desk-{uuid.uuid4().hex[:8]}",
        "nodes": [
            {
                "id": "read",
                "type": "desktop.read_text",
                "parameters": {
                    "region": {"left": left, "top": top, "width": width, "height": height},
                    "backend": "rapidocr",
                },
            },
            {
                "id": "big",
                "type": "condition",
                "parameters": {"expression": "{{ max(numbers($read.text)) > 42 }}"},
            },
            {
                "id": "press",
                "type": "desktop.click",
                "parameters": {
                    "text": "Click",
                    "backend": "rapidocr",
                    "region": {"left": left, "top": top, "width": width, "height": height},
                },
            },
        ],
        "edges": [{"from": "read", "to": "big"}, {"from": "big", "to": "press", "when": "true"}],
    }
    record = runtime.run(doc)
    assert record.status == "completed", record.error
    assert "64" in record.outputs["read"]["text"]
    assert app.clicks() == 1


def test_every_desktop_node_in_one_workflow(runtime: hub.Client, app: DesktopApp) -> None:
    show(app, 31)
    left, top, width, height = app.rects["window"]
    window = {"left": left, "top": top, "width": width, "height": height}
    entry_x, entry_y = app.centre("entry")
    doc = {
        "id": f"desk-all-{uuid.uuid4().hex[:8]}",
        "nodes": [
            {"id": "shot", "type": "desktop.capture", "parameters": {"region": window}},
            {
                "id": "read",
                "type": "desktop.ocr",
                "parameters": {"image_id": "{{ $shot.image_id }}", "backend": "tesseract"},
            },
            {
                "id": "pooled",
                "type": "desktop.ocr",
                "parameters": {
                    "image_id": "{{ $shot.image_id }}",
                    "backend": "rapidocr",
                    "placement": "pool",
                },
            },
            {
                "id": "where",
                "type": "desktop.find_text",
                "parameters": {"regex": "Cl[i1]ck", "region": window, "backend": "rapidocr"},
            },
            {
                "id": "seen",
                "type": "desktop.wait_for_text",
                "parameters": {"text": "31", "region": window, "timeout_s": 20},
            },
            {"id": "go", "type": "desktop.move", "parameters": {"x": entry_x, "y": entry_y}},
            {"id": "focus", "type": "desktop.click", "parameters": {"x": entry_x, "y": entry_y}},
            {"id": "write", "type": "desktop.type", "parameters": {"text": "hello"}},
            {"id": "submit", "type": "desktop.key", "parameters": {"key": "enter"}},
            {
                "id": "dry",
                "type": "desktop.click",
                "parameters": {"x": "{{ $where.x }}", "y": "{{ $where.y }}", "dry_run": True},
            },
        ],
        "edges": [
            {"from": a, "to": b}
            for a, b in [
                ("shot", "read"),
                ("read", "pooled"),
                ("pooled", "where"),
                ("where", "seen"),
                ("seen", "go"),
                ("go", "focus"),
                ("focus", "write"),
                ("write", "submit"),
                ("submit", "dry"),
            ]
        ],
    }
    record = runtime.run(doc)
    assert record.status == "completed", record.error
    assert record.outputs["shot"]["width"] == width
    assert "31" in record.outputs["read"]["text"]
    assert "31" in record.outputs["pooled"]["text"]  # read by an OcrActor, image via Ray
    assert record.outputs["where"]["found"] is True
    assert record.outputs["seen"]["found"] is True
    wait_until(lambda: "hello" in app.typed(), timeout_s=10, what="typed text")
    assert record.outputs["dry"]["dry_run"] is True
    assert app.clicks() == 0
    bad = runtime.run(
        {
            "id": f"desk-bad-{uuid.uuid4().hex[:8]}",
            "nodes": [{"id": "k", "type": "desktop.key", "parameters": {"key": "entr"}}],
        }
    )
    assert bad.status == "failed" and bad.error is not None
    assert "enter" in bad.error.message


def test_kill_switch_latches_until_reset(
    runtime: hub.Client, app: DesktopApp, x_display: str
) -> None:
    x, y = app.centre("button")

    def click() -> hub.ExecutionRecord:
        return runtime.run(
            {
                "id": f"desk-kill-{uuid.uuid4().hex[:8]}",
                "nodes": [{"id": "press", "type": "desktop.click", "parameters": {"x": x, "y": y}}],
            }
        )

    xdotool(x_display, "mousemove", "1023", "767")
    try:
        tripped = click()
        assert tripped.status == "failed" and tripped.error is not None
        assert "kill switch" in tripped.error.message.lower()
        xdotool(x_display, "mousemove", "512", "400")
        assert click().status == "failed"  # still tripped: moving away does not re-arm it
        assert app.clicks() == 0
    finally:
        assert runtime.desktop_reset() is True
    assert click().status == "completed"
    assert app.clicks() == 1


def test_clicker_cli(runtime: hub.Client, runtime_env: dict[str, str], app: DesktopApp) -> None:
    import json
    import subprocess

    from tests.conftest import HUB

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HUB, "clicker", *args], env=runtime_env, capture_output=True, text=True, timeout=120
        )

    show(app, 91)
    left, top, width, height = app.rects["number"]
    x, y = app.centre("button")
    started = cli(
        "start",
        "--region",
        f"{left},{top},{width},{height}",
        "--threshold",
        "42",
        "--click",
        f"{x},{y}",
        "--interval-ms",
        "100",
        "--max-clicks",
        "2",
        "--backend",
        "rapidocr",
        "--dry-run",
    )
    assert started.returncode == 0, started.stderr
    session_id = started.stdout.strip()
    wait_until(
        lambda: not json.loads(cli("show", session_id).stdout)["running"],
        timeout_s=30,
        what="the CLI session to end",
    )
    shown = json.loads(cli("show", session_id).stdout)
    assert shown["stop_reason"] == "max_clicks (2) reached"
    assert session_id in [s["id"] for s in json.loads(cli("ls").stdout)]
    assert app.clicks() == 0  # --dry-run
    bad = cli("start", "--region", "1,2,3", "--click", "1,1")
    assert bad.returncode == 2 and "--region must be 4 integers" in bad.stderr

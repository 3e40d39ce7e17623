"""The runtime's metrics (docs/metrics.md) on the real nodes' metrics endpoints: run workflows on
the session's runtime, then scrape every alive node as Prometheus would."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import hub
from hub import ExecutionStatus
from tests.metrics_text import Sample, fetch, node_endpoints, parse, total

pytestmark = pytest.mark.ray

# Ray hands metrics to the node's agent every RAY_metrics_report_interval_ms (10 s by default).
SCRAPE_FOR_S = 90


def endpoints() -> list[str]:
    return [f"http://{address}/metrics" for address in node_endpoints()]


def scrape() -> list[Sample]:
    samples: list[Sample] = []
    for url in endpoints():
        try:
            samples += parse(fetch(url))
        except OSError:
            continue  # an agent still starting: the next scrape asks again
    return samples


def scrape_until(check: Callable[[list[Sample]], list[str]]) -> list[str]:
    """Scrape until ``check`` finds nothing missing; answer what is still missing."""
    deadline = time.monotonic() + SCRAPE_FOR_S
    while True:
        missing = check(scrape())
        if not missing or time.monotonic() > deadline:
            return missing
        time.sleep(1)


@pytest.mark.timeout(300)
def test_executions_steps_pools_and_queue_are_exported(
    runtime: hub.Client, http_server: Any
) -> None:
    assert endpoints(), "no alive node has a metrics export port"
    ok_id, bad_id = f"m-{uuid.uuid4().hex[:10]}", f"m-{uuid.uuid4().hex[:10]}"
    ok = {
        "id": ok_id,
        "nodes": [
            {"id": "vals", "type": "set", "parameters": {"values": {"n": 1}}},
            {"id": "echo", "type": "test.echo", "parameters": {"value": "{{ $vals.n }}"}},
            {"id": "fetch", "type": "http", "parameters": {"url": http_server.url + "/users/1"}},
        ],
        "edges": [{"from": "vals", "to": "echo"}, {"from": "echo", "to": "fetch"}],
    }
    bad = {"id": bad_id, "nodes": [{"id": "boom", "type": "fail", "parameters": {}}]}
    ticking = {  # the triggers' metrics: a one-second schedule fires while this test scrapes
        "id": f"m-{uuid.uuid4().hex[:10]}",
        "nodes": [{"id": "a", "type": "set", "parameters": {"values": {}}}],
        "triggers": [{"id": "tick", "type": "schedule", "every_s": 1}],
    }
    runtime.register(ticking)
    runs = 3
    for _ in range(runs):
        record = runtime.run(ok)
        assert record.status == ExecutionStatus.COMPLETED, record.error
    assert runtime.run(bad).status == ExecutionStatus.FAILED

    def check(samples: list[Sample]) -> list[str]:
        at_least: list[tuple[str, dict[str, str], float]] = [
            ("ray_hub_executions_total", {"workflow": ok_id, "status": "completed"}, runs),
            ("ray_hub_executions_total", {"workflow": bad_id, "status": "failed"}, 1),
            *(
                (
                    "ray_hub_step_duration_seconds_count",
                    {"node_type": t, "status": "completed"},
                    runs,
                )
                for t in ("set", "test.echo", "http")
            ),
            ("ray_hub_step_duration_seconds_count", {"node_type": "fail", "status": "failed"}, 1),
            ("ray_hub_pool_size", {"node_type": "test.echo"}, 1),
            ("ray_hub_pool_size", {"node_type": "http"}, 1),
            ("ray_hub_trigger_fires_total", {"type": "schedule"}, 1),
            ("ray_hub_schedule_lag_seconds_count", {}, 1),
        ]
        missing = []
        for name, tags, least in at_least:
            value = total(samples, name, **tags)
            if value is None or value < least:
                missing.append(f"{name}{tags} = {value}, want >= {least}")
        for name, tags in (
            ("ray_hub_queue_depth", {}),
            ("ray_hub_running_executions", {}),
            ("ray_hub_execution_actors", {"state": "idle"}),
            ("ray_hub_execution_actors", {"state": "busy"}),
            ("ray_hub_node_actor_busy", {"node_type": "test.echo"}),
            ("ray_hub_node_actor_inflight", {"node_type": "http"}),
        ):
            if total(samples, name, **tags) is None:
                missing.append(f"gauge {name}{tags} is not exported")
        return missing

    try:
        missing = scrape_until(check)
    finally:
        runtime.disable_trigger(ticking["id"], "tick")
    assert not missing, "\n".join(missing)


@pytest.mark.timeout(300)
def test_a_busy_node_actor_is_counted_as_busy(runtime: hub.Client, http_server: Any) -> None:
    """While a pooled step runs, its node actor reports a call in flight."""
    doc = {
        "id": f"m-{uuid.uuid4().hex[:10]}",
        "nodes": [
            {
                "id": "slow",
                "type": "http",
                # Longer than the agent needs to see the gauge (one report interval, 10 s).
                "parameters": {"url": http_server.url + "/slow?s=30", "timeout_s": 60},
            }
        ],
    }
    started = runtime.run(doc, wait=False)

    def busy(samples: list[Sample]) -> list[str]:
        value = total(samples, "ray_hub_node_actor_busy", node_type="http")
        inflight = total(samples, "ray_hub_node_actor_inflight", node_type="http")
        if not value or not inflight:
            return [f"http busy = {value}, in flight = {inflight}"]
        return []

    try:
        missing = scrape_until(busy)
    finally:
        runtime.cancel(started.id)
    assert not missing, "\n".join(missing)


@pytest.mark.timeout(300)
def test_desktop_cycles_clicks_and_ocr_are_exported(
    runtime: hub.Client, x_display: str | None, tmp_path: Path
) -> None:
    """A dry-run clicker session and a workflow of desktop nodes, on the session's Xvfb."""
    if x_display is None:
        pytest.skip("Xvfb is not installed here (the test command installs it)")
    from tests.e2e.xvfb import running_app, wait_until, xdotool

    with running_app(x_display, tmp_path / "app", number=77) as app:
        xdotool(x_display, "mousemove", "512", "400")  # away from the corners (kill switch)
        runtime.desktop_reset()
        left, top, width, height = app.rects["number"]
        x, y = app.centre("button")
        session = runtime.clicker_start(
            {
                "region": {"left": left, "top": top, "width": width, "height": height},
                "threshold": 42,
                "click_x": x,
                "click_y": y,
                "interval_ms": 50,
                "max_clicks": 2,
                "max_duration_s": 60,
                "dry_run": True,
                "backend": "rapidocr",
            }
        )
        wait_until(
            lambda: not runtime.clicker_session(session.id)["running"],
            timeout_s=60,
            what="the session to end after 2 clicks",
        )
        assert app.clicks() == 0  # dry run
        doc = {
            "id": f"m-{uuid.uuid4().hex[:10]}",
            "nodes": [
                {
                    "id": "read",
                    "type": "desktop.read_text",
                    "parameters": {
                        "region": {"left": left, "top": top, "width": width, "height": height},
                        "backend": "tesseract",
                    },
                },
                {
                    "id": "press",
                    "type": "desktop.click",
                    "parameters": {"x": x, "y": y, "clicks": 2, "dry_run": True},
                },
            ],
            "edges": [{"from": "read", "to": "press"}],
        }
        record = runtime.run(doc)
        assert record.status == ExecutionStatus.COMPLETED, record.error

    def check(samples: list[Sample]) -> list[str]:
        at_least: list[tuple[str, dict[str, str], float]] = [
            ("ray_hub_desktop_clicks_total", {"source": "clicker", "dry_run": "true"}, 2),
            ("ray_hub_desktop_clicks_total", {"source": "node", "dry_run": "true"}, 2),
            ("ray_hub_desktop_cycle_seconds_count", {"status": "ok", "dry_run": "true"}, 2),
            ("ray_hub_ocr_duration_seconds_count", {"backend": "rapidocr", "where": "local"}, 1),
            ("ray_hub_ocr_duration_seconds_count", {"backend": "tesseract", "where": "local"}, 1),
            (
                "ray_hub_step_duration_seconds_count",
                {"node_type": "desktop.click", "status": "completed"},
                1,
            ),
        ]
        missing = []
        for name, tags, least in at_least:
            value = total(samples, name, **tags)
            if value is None or value < least:
                missing.append(f"{name}{tags} = {value}, want >= {least}")
        if total(samples, "ray_hub_node_actor_busy", node_type="desktop") is None:
            missing.append("the DesktopActor's busy gauge is not exported")
        return missing

    missing = scrape_until(check)
    assert not missing, "\n".join(missing)

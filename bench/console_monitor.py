"""The console monitor's live latency (issue 15): from a step's event to the browser's DOM.

    .venv/bin/python bench/console_monitor.py            # about 1.5 minutes
    .venv/bin/python bench/console_monitor.py --steps 50 # smaller

It starts its own runtime (``hub up`` in a temporary HUB_HOME, SQLite store), signs in to the
console in Debian's Chromium (Playwright), and opens the monitor of a run of ``--steps`` ``set``
steps in a chain, behind a 4 s ``delay`` so that the page is open and following the SSE stream
before the first of them completes. A MutationObserver in the page notes when each graph node
first shows "completed" (``Date.now()``); the latency of a step is that moment minus the
``ts`` of its ``step_completed`` event (stamped by the ExecutionActor when the step ended; same
machine, same clock). So it covers the Recorder's commit, the SSE stream and the page's render.
Reports p50, p95 and max; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "token")

import httpx  # noqa: E402

from bench.api import percentile  # noqa: E402
from bench.runtime import own_runtime  # noqa: E402

# Runs in the page before the app: the first time each node's class says "completed".
OBSERVER = """
window.__completed = {};
new MutationObserver(() => {
  for (const node of document.querySelectorAll("g.graph-node.state-completed")) {
    const id = (node.getAttribute("aria-label") || "").split(":")[0];
    if (id && !(id in window.__completed)) window.__completed[id] = Date.now();
  }
}).observe(document, {
  subtree: true, childList: true, attributes: true, attributeFilter: ["class"],
});
"""


def chain(steps: int) -> dict[str, Any]:
    ids = [f"s{i:03d}" for i in range(steps)]
    nodes = [{"id": "wait", "type": "delay", "parameters": {"seconds": 4}}]
    nodes += [{"id": i, "type": "set", "parameters": {"values": {"i": i}}} for i in ids]
    edges = [{"from": a, "to": b} for a, b in zip(["wait", *ids], ids, strict=False)]
    return {"id": f"bench-monitor-{steps}", "nodes": nodes, "edges": edges}


def measure(base: str, token: str, steps: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    console = base.removesuffix("/api/v1") + "/ui"
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=auth, timeout=60) as api:
        doc = chain(steps)
        api.post("/workflows", json=doc).raise_for_status()
        with sync_playwright() as driver:
            browser = driver.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
            page.add_init_script(OBSERVER)
            page.goto(console + "/")
            page.get_by_label("API token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("navigation", name="Main").wait_for()
            execution_id = api.post(f"/workflows/{doc['id']}/runs", json={}).json()["execution_id"]
            page.goto(f"{console}/executions/{execution_id}")
            last = f"s{steps - 1:03d}: completed"
            page.get_by_role("button", name=last).wait_for(timeout=300_000)
            seen: dict[str, int] = page.evaluate("window.__completed")
            browser.close()
        events = []
        with api.stream("GET", f"/executions/{execution_id}/events") as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
    completed = {
        e["node_id"]: datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()
        for e in events
        if e["type"] == "step_completed" and e.get("node_id", "").startswith("s")
    }
    lat = [seen[n] / 1000 - ts for n, ts in completed.items() if n in seen]
    return {
        "steps": steps,
        "measured": len(lat),
        "p50_ms": round(statistics.median(lat) * 1000, 1),
        "p95_ms": round(percentile(lat, 0.95) * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1),
        "run_s": round(max(completed.values()) - min(completed.values()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    with own_runtime(Path(tempfile.mkdtemp(prefix="hub-bench-monitor-"))) as runtime:
        result = measure(runtime.api_url, runtime.token, args.steps)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

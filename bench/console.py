"""The web console's History page against 100,000 executions (issue 15). Reports numbers;
asserts nothing.

    .venv/bin/python bench/console.py             # about 2 minutes
    .venv/bin/python bench/console.py --executions 20000 --repeat 20

It fills a fresh ``HUB_HOME``'s SQLite store with finished executions through the store's own
schema and row builder (``hub.store``: one bulk insert per 5,000 rows, before ``hub up``, so no
run is executed), starts ``hub up`` on it, signs in as the console does (``POST /ui/session``:
a session cookie) and times ``GET /api/v1/executions`` as the History screen asks for it:

- the first page (newest first, 50 rows),
- a filtered page (one workflow, failed only),
- a deep keyset page: the cursor after the row 90% of the way down the table, the page a person
  reaches after many "Next page" clicks (keyset paging makes it cost what the first page costs),
- the statistics panel (``GET /executions/stats`` of that workflow).

Each request is timed from the client (server time plus the loopback), ``--repeat`` times after
two warm-ups; p50 and p95 in ms. The runtime is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "token")

import httpx  # noqa: E402

from bench.runtime import own_runtime  # noqa: E402
from hub.history import encode_cursor  # noqa: E402
from hub.records import ErrorInfo, ExecutionRecord, ExecutionStatus  # noqa: E402
from hub.store import Store, database_url_from_env  # noqa: E402
from hub.store._rows import execution_row  # noqa: E402
from hub.store._schema import executions  # noqa: E402

WORKFLOWS = 20
BATCH = 5_000


def fill(home: Path, count: int) -> dict[str, Any]:
    """``count`` finished executions over the last 30 days, 1 in 7 failed, spread over
    WORKFLOWS workflows; returns what the timed queries need."""
    store = Store(database_url_from_env(home))
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / count
    deep: tuple[datetime, str] | None = None
    began = time.perf_counter()
    try:
        for first in range(0, count, BATCH):
            rows = []
            for i in range(first, min(first + BATCH, count)):
                created = start + step * i
                failed = i % 7 == 0
                record = ExecutionRecord(
                    id=uuid.uuid4().hex,
                    workflow_id=f"bench-console-{i % WORKFLOWS}",
                    workflow_version="1",
                    status=ExecutionStatus.FAILED if failed else ExecutionStatus.COMPLETED,
                    trigger="schedule" if i % 3 == 0 else "api",
                    inputs={"n": i},
                    outputs={} if failed else {"say": {"n": i}},
                    error=ErrorInfo(category="node_error", message=f"boom {i}") if failed else None,
                    created_at=created,
                    started_at=created + timedelta(milliseconds=5),
                    ended_at=created + timedelta(milliseconds=5 + (i % 400)),
                )
                if i == count // 10:  # newest first: 90% of the table lies after this one
                    deep = (record.created_at, record.id)
                rows.append(execution_row(record))
            with store._tx("bench fill", write=True) as conn:
                conn.execute(executions.insert(), rows)
    finally:
        store.close()
    assert deep is not None
    return {"fill_s": round(time.perf_counter() - began, 1), "deep": deep}


def timed(client: httpx.Client, path: str, params: dict[str, Any], repeat: int) -> dict[str, Any]:
    for _ in range(2):
        client.get(path, params=params).raise_for_status()
    samples = []
    rows = 0
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(path, params=params)
        samples.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
        rows = len(response.json().get("items", []))
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))], 1),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hub-bench-console-"))
    filled = fill(home, args.executions)
    deep_at, deep_id = filled["deep"]
    results: dict[str, Any] = {"executions": args.executions, "fill_s": filled["fill_s"]}
    with own_runtime(home) as runtime:
        base = runtime.api_url.removesuffix("/api/v1")
        with httpx.Client(base_url=base, timeout=60) as client:
            signed = client.post("/ui/session", json={"token": runtime.token})
            signed.raise_for_status()  # the session cookie, as the console holds it
            api = "/api/v1/executions"
            results["first_page"] = timed(client, api, {"limit": 50}, args.repeat)
            results["filtered_page"] = timed(
                client,
                api,
                {"limit": 50, "workflow_id": "bench-console-3", "status": "failed"},
                args.repeat,
            )
            cursor = encode_cursor("-created_at", deep_at, deep_id)
            results["deep_keyset_page"] = timed(
                client, api, {"limit": 50, "cursor": cursor}, args.repeat
            )
            results["stats"] = timed(
                client, api + "/stats", {"workflow_id": "bench-console-3"}, args.repeat
            )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

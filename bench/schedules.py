"""Triggers' speed (issue 14): schedule lag and webhook latency. Reports numbers; asserts nothing.

    .venv/bin/python bench/schedules.py            # about 1.5 minutes
    .venv/bin/python bench/schedules.py --quick

It starts its own runtime (``hub up`` in a temporary HUB_HOME, SQLite store) and stops it.

1. Schedule lag: 10 workflows, each with a one-second ``every_s`` schedule, fire for
   ``--seconds``; the lag of a fire is its execution's ``created_at`` (the moment the supervisor
   made it, durably) minus its slot. p50, p99 and max over every fire after the first 3 s.
2. Webhook → execution created: one keep-alive client POSTs to a webhook (``respond:
   accepted``), one call after another; the time until the 202 that carries the execution id
   (the execution is committed before that answer). With the API token, then with an
   HMAC-SHA256 signature (the credential is opened for each call). p50 and p99.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "token")

import httpx  # noqa: E402

from bench.api import percentile  # noqa: E402
from bench.runtime import own_runtime  # noqa: E402

SCHEDULES = 10
SECRET = "bench-secret"


def scheduled(i: int) -> dict[str, Any]:
    return {
        "id": f"bench-tick-{i}",
        "nodes": [{"id": "a", "type": "set", "parameters": {"values": {}}}],
        "triggers": [{"id": "tick", "type": "schedule", "every_s": 1}],
    }


HOOKED = {
    "id": "bench-hook",
    "inputs": {"n": {"type": "integer"}},
    "nodes": [{"id": "a", "type": "set", "parameters": {"values": {"n": "{{ $input.n }}"}}}],
    "triggers": [
        {"id": "open", "type": "webhook", "inputs": {"n": "{{ $trigger.body.n }}"}},
        {
            "id": "signed",
            "type": "webhook",
            "secret": "bench_hook",
            "inputs": {"n": "{{ $trigger.body.n }}"},
        },
    ],
}


def ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p99_ms": round(percentile(values, 0.99) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
        "samples": len(values),
    }


def schedule_lag(client: httpx.Client, seconds: float) -> dict[str, float]:
    for i in range(SCHEDULES):
        client.post("/workflows", json=scheduled(i)).raise_for_status()
    started = time.time()
    time.sleep(seconds)
    for i in range(SCHEDULES):
        client.post(f"/triggers/bench-tick-{i}/tick/disable").raise_for_status()
    lags: list[float] = []
    for i in range(SCHEDULES):
        page = client.get(
            "/executions", params={"workflow_id": f"bench-tick-{i}", "limit": 1000}
        ).json()
        for item in page["items"]:
            slot = datetime.fromisoformat(item["trigger_info"]["slot"])
            if slot.timestamp() < started + 3:
                continue  # the first fires pay for actors and plans made once
            created = datetime.fromisoformat(item["created_at"])
            lags.append((created - slot).total_seconds())
    return ms(lags)


def webhook(client: httpx.Client, n: int, *, signed: bool) -> dict[str, float]:
    times: list[float] = []
    path = "/hooks/bench-hook/signed" if signed else "/hooks/bench-hook/open"
    for i in range(n + 20):
        body = json.dumps({"n": i}).encode()
        headers = {"Content-Type": "application/json"}
        if signed:
            digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = f"sha256={digest}"
        t = time.perf_counter()
        answer = client.post(path, content=body, headers=headers)
        elapsed = time.perf_counter() - t
        assert answer.status_code == 202, answer.text
        if i >= 20:  # the first calls warm the route, the plan and the actors
            times.append(elapsed)
    return ms(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    n = 50 if args.quick else 300
    with own_runtime(Path(tempfile.mkdtemp(prefix="hub-bench-triggers-"))) as runtime:
        base, token = runtime.api_url, runtime.token
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            results["schedule_lag"] = schedule_lag(client, 10 if args.quick else args.seconds)
            client.put("/credentials/bench_hook", json={"value": SECRET}).raise_for_status()
            client.post("/workflows", json=HOOKED).raise_for_status()
            results["webhook_token"] = webhook(client, n, signed=False)
        with httpx.Client(base_url=base, timeout=60) as anonymous:  # no token: the signature
            results["webhook_signed"] = webhook(anonymous, n, signed=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""The HTTP API's speed (issue #5). Reports numbers; asserts nothing.

    .venv/bin/python bench/api.py            # about 2 minutes
    .venv/bin/python bench/api.py --quick

It starts its own runtime (``hub up`` in a temporary HUB_HOME, SQLite store) and stops it.

1. Latency through HTTP (one keep-alive client, requests one after another, with a 10 ms pause
   between them, then back to back): POST ``/workflows/{id}/runs`` (202: validated, durably
   recorded, admitted) and GET ``/executions/{id}``; p50 and p99. Measured on a warm runtime:
   after a 3 s burst of starts has made every execution actor, and its runs have drained.
2. Sustained starts per second: ``--clients`` concurrent keep-alive connections start runs of a
   one-step workflow for ``--seconds``; every start is a committed execution that then runs.
   The load comes from ``wrk`` (Debian package ``wrk``) when it is installed, so that the load
   generator takes little of the two cores; otherwise from httpx clients in this process. Besides
   the accepted starts it reports the runs completed in the same window and the backlog left
   at its end: a rate counts as sustained only if the runs keep up with the starts.
3. SSE fan-out: 100 subscribers of one execution (a 20-step workflow with a short delay per
   step); each must receive every event the store holds for it, in order, once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "token")

import httpx  # noqa: E402

from bench.core import HUB, chain  # noqa: E402
from hub._processes import free_port  # noqa: E402

ONE_STEP = {"id": "bench-one", "nodes": [{"id": "a", "type": "set", "parameters": {"values": {}}}]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(client: httpx.Client, n: int, pause_s: float) -> dict[str, float]:
    """One client, one request at a time, ``pause_s`` between requests."""
    starts, gets, ids = [], [], []
    for _ in range(20):  # warm: plans cached, connections open
        client.post("/workflows/bench-one/runs", json={"inputs": {}})
    for _ in range(n):
        t = time.perf_counter()
        answer = client.post("/workflows/bench-one/runs", json={"inputs": {}})
        starts.append(time.perf_counter() - t)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["execution_id"])
        time.sleep(pause_s)
    for execution_id in ids:
        t = time.perf_counter()
        answer = client.get(f"/executions/{execution_id}")
        gets.append(time.perf_counter() - t)
        assert answer.status_code == 200
        time.sleep(pause_s)
    ms = 1000.0
    return {
        "pause_ms": pause_s * ms,
        "start_p50_ms": statistics.median(starts) * ms,
        "start_p99_ms": percentile(starts, 0.99) * ms,
        "get_p50_ms": statistics.median(gets) * ms,
        "get_p99_ms": percentile(gets, 0.99) * ms,
        "samples": n,
    }


def drain(client: httpx.Client, timeout_s: float = 120) -> None:
    """Wait until no run is running or queued."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runtime = client.get("/runtime").json()
        if runtime["running"] == 0 and runtime["queued"] == 0:
            return
        time.sleep(0.5)
    raise TimeoutError("the runs did not drain")


async def _httpx_load(base: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
            while time.perf_counter() < deadline:
                answer = await client.post("/workflows/bench-one/runs", json={"inputs": {}})
                if answer.status_code == 202:
                    done += 1
                else:
                    errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {"load": "httpx", "starts": done, "errors": errors, "seconds": elapsed}


def _wrk_load(wrk: str, base: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    script = Path(tempfile.mkdtemp(prefix="hub-bench-wrk-")) / "start.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        "wrk.body = '{\"inputs\": {}}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    out = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{clients}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(script),
            f"{base}/workflows/bench-one/runs",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    assert total is not None, out
    scale = 0.001 if total.group(3) == "ms" else 1.0
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    socket_errors = re.search(r"Socket errors: (.*)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, flags=re.M))
    return {
        "load": "wrk",
        "starts": int(total.group(1)) - errors,
        "errors": errors + (1 if socket_errors else 0),
        "seconds": float(total.group(2)) * scale,
        "latency_under_load": {f"p{q}": v for q, v in latency.items()},
    }


def _completed(client: httpx.Client) -> int:
    stats = client.get("/executions/stats", params={"workflow_id": "bench-one"}).json()
    return int(stats["by_status"]["completed"])


def sustained(base: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        before = _completed(client)
        wrk = shutil.which("wrk")
        if wrk:
            result = _wrk_load(wrk, base, token, clients, seconds)
        else:
            result = asyncio.run(_httpx_load(base, token, clients, seconds))
        after = _completed(client)
        runtime = client.get("/runtime").json()
    return {
        **result,
        "clients": clients,
        "starts_per_s": result["starts"] / result["seconds"],
        "completed_per_s": (after - before) / result["seconds"],
        "backlog_at_end": {"running": runtime["running"], "queued": runtime["queued"]},
    }


async def fan_out(base: str, token: str, subscribers: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        answer = await client.post("/workflows/bench-fan/runs", json={"inputs": {}})
        execution_id = answer.json()["execution_id"]

        async def subscribe() -> list[tuple[int, str]]:
            seen: list[tuple[int, str]] = []
            async with (
                httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as own,
                own.stream("GET", f"/executions/{execution_id}/events") as stream,
            ):
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        seen.append((event["id"], event["type"]))
            return seen

        started = time.perf_counter()
        results = await asyncio.gather(*(subscribe() for _ in range(subscribers)))
        elapsed = time.perf_counter() - started
    # Every event once, in order: ids 1..N with no gap, the last one terminal; all the same.
    reference = max(results, key=len)
    whole = [i for i, _ in reference] == list(range(1, len(reference) + 1)) and reference[-1][
        1
    ].startswith("execution_")
    complete = sum(1 for r in results if r == reference) if whole else 0
    return {
        "subscribers": subscribers,
        "events": len(reference),
        "subscribers_with_every_event": complete,
        "all_done_s": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="hub-bench-api-")
    env = dict(
        os.environ,
        HUB_HOME=home,
        HUB_MAX_CONCURRENT_EXECUTIONS="8",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    api_port = free_port()
    up = [HUB, "up", "--json", "--port", str(free_port()), "--dashboard-port", str(free_port())]
    info = json.loads(
        subprocess.run(
            [*up, "--api-port", str(api_port)], env=env, check=True, capture_output=True
        ).stdout
    )
    base, token = info["api_url"], (Path(home) / "api.token").read_text().strip()
    results: dict[str, Any] = {}
    try:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as client:
            client.post("/workflows", json=ONE_STEP).raise_for_status()
            fan = chain("bench-fan", "delay", 20, {"seconds": 0.05})
            client.post("/workflows", json=fan).raise_for_status()
            # Warm, as a runtime in use is: every execution actor made, every code path run.
            sustained(base, token, args.clients, 3)
            drain(client)
            n = 100 if args.quick else 500
            results["latency"] = latency(client, n, pause_s=0.01)
            drain(client)
            results["latency_back_to_back"] = latency(client, n, pause_s=0)
            drain(client)
            seconds = 5 if args.quick else args.seconds
            results["sustained"] = sustained(base, token, args.clients, seconds)
            drain(client)
        results["fan_out"] = asyncio.run(fan_out(base, token, 100))
    finally:
        subprocess.run([HUB, "down", "--cancel-runs"], env=env, check=False, capture_output=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Cluster benchmarks (issue #6): the runtime on one Ray node against two Ray nodes of this
machine (cluster/local_cluster.py). Reports numbers; asserts nothing.

    .venv/bin/python bench/cluster.py                    # about 2 minutes
    .venv/bin/python bench/cluster.py --quick            # fewer runs
    .venv/bin/python bench/cluster.py --only one-node    # one scenario

Three clusters, one after another, each in a temporary HUB_HOME (SQLite store) on free ports
(never 6379), stopped at the end with ``LocalCluster.down()``:

- ``one-node``: a head only (``hub up --desktop``, the head owns the Xvfb display): every
  actor of the runtime, the DesktopActor included, runs on the head node.
- ``two-node-pinned``: a head (no display) and a worker offering ``{"edge": 2, "desktop": 1}``
  with the display; ``HUB_NODE_POOL_RESOURCES`` pins the ``bench.noop`` pool to ``edge``, so
  every pooled step crosses from its ExecutionActor (most of them are on the head) to the
  worker and back, and the DesktopActor is created on the worker.
- ``two-node-spread``: a head and a worker with no special resource, no pinning: Ray spreads
  the pools (and any ExecutionActor made after the worker joined) over both nodes.

Workloads, per cluster (the pooled node is the no-op action node of bench/bench_nodes.py):

- ``three-inline``: ``set -> set -> set`` (bench/core.py's 3-node workflow, no pool);
- ``three-pooled``: ``set -> bench.noop -> bench.noop``;
- ``fanout-N``: ``set`` fanning out to N parallel ``bench.noop`` steps, then a ``merge``.

Each is measured serially (one client, ``run`` and wait, back to back: latency without
contention) and as a burst (R runs submitted at once from 8 threads with ``wait=False``, then
``client.wait`` on each: runs/s from the first submit to the last completion; latency of each
run from its record, created -> ended, which includes time queued behind the admission limit).

Desktop placement latency (when Xvfb is installed): a one-step workflow ``desktop.move`` at a
fixed point with ``HUB_ENABLE_DESKTOP=1`` and ``HUB_DESKTOP_DRY_RUN=1`` (nothing moves); the
first run (cold: the supervisor creates the DesktopActor, a new Ray worker process, on the node
with the ``desktop`` resource) and then warm runs. Measured from the client's submit to the
completed record, and from the run's creation to the desktop step's end (record timestamps).

CPU seconds used by each node's processes (Ray's and the runtime's, by process session), by
this process (the client) and by every other process of the machine (``other``: someone
else's work, which skews the figures) are sampled around each burst.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# This file's folder comes first on sys.path when it runs as a script, and this file's name
# would hide the repository's ``cluster`` package: take the folder off, put the root first.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from cluster.local_cluster import LocalCluster  # noqa: E402

POOLED = "bench.noop"
FANOUT = 8
SUBMITTERS = 8
WAIT_S = 120  # a run not done by then is reported as stuck


# --- workflows -----------------------------------------------------------------------------


def chain(workflow_id: str, types: list[str]) -> dict[str, Any]:
    nodes = [
        {"id": f"n{i}", "type": t, "parameters": {"values": {"i": i}} if t == "set" else {}}
        for i, t in enumerate(types)
    ]
    edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(len(types) - 1)]
    return {"id": workflow_id, "nodes": nodes, "edges": edges}


def fanout(workflow_id: str, n: int) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "set", "parameters": {"values": {}}}]
    nodes += [{"id": f"b{i}", "type": POOLED, "parameters": {}} for i in range(n)]
    nodes.append({"id": "join", "type": "merge", "parameters": {}})
    edges = [{"from": "start", "to": f"b{i}"} for i in range(n)]
    edges += [{"from": f"b{i}", "to": "join"} for i in range(n)]
    return {"id": workflow_id, "nodes": nodes, "edges": edges}


def desktop_move() -> dict[str, Any]:
    return {
        "id": "desktop-move",
        "nodes": [{"id": "move", "type": "desktop.move", "parameters": {"x": 300, "y": 200}}],
    }


WORKLOADS = {
    "three-inline": chain("three-inline", ["set", "set", "set"]),
    "three-pooled": chain("three-pooled", ["set", POOLED, POOLED]),
    f"fanout-{FANOUT}": fanout(f"fanout-{FANOUT}", FANOUT),
}


# --- measuring -----------------------------------------------------------------------------


def pct(samples: list[float], q: int) -> float:
    """The q-th percentile (nearest rank) of samples, in ms."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank] * 1000, 1)


def summary(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": pct(samples, 50), "p95_ms": pct(samples, 95), "max_ms": pct(samples, 100)}


def seconds(a: Any, b: Any) -> float:
    return float((b - a).total_seconds())


class Problems:
    """Runs that failed or did not end in time: reported, not raised (they are findings)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.lock = threading.Lock()

    def add(self, what: str) -> None:
        with self.lock:
            self.items.append(what)
        print(f"  PROBLEM: {what}", file=sys.stderr)


def serial(client: Any, workflow_id: str, n: int, problems: Problems) -> dict[str, Any]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        try:
            record = client.run(workflow_id, timeout_s=WAIT_S)
        except Exception as exc:
            problems.add(f"{workflow_id} serial: {type(exc).__name__}: {exc}")
            continue
        samples.append(time.perf_counter() - started)
        if record.status != "completed":
            problems.add(f"{workflow_id} serial run {record.id}: {record.status} {record.error}")
    return {"runs": n, **summary(samples)}


def burst(client: Any, workflow_id: str, n: int, problems: Problems) -> dict[str, Any]:
    """n runs submitted at once from SUBMITTERS threads, then waited on."""
    with ThreadPoolExecutor(SUBMITTERS) as pool:
        started = time.perf_counter()
        submitted = list(
            pool.map(lambda _: client.run(workflow_id, wait=False, timeout_s=WAIT_S), range(n))
        )
        submit_s = time.perf_counter() - started

        def wait(execution_id: str) -> Any:
            try:
                return client.wait(execution_id, timeout_s=WAIT_S)
            except Exception as exc:
                problems.add(f"{workflow_id} burst run {execution_id}: {type(exc).__name__}")
                return None

        records = list(pool.map(wait, [r.id for r in submitted]))
        elapsed = time.perf_counter() - started
    done = [r for r in records if r is not None and r.status == "completed"]
    for r in records:
        if r is not None and r.status != "completed":
            problems.add(f"{workflow_id} burst run {r.id}: {r.status} {r.error}")
    latency = [seconds(r.created_at, r.ended_at) for r in done]
    running = [seconds(r.started_at, r.ended_at) for r in done]
    return {
        "runs": n,
        "completed": len(done),
        "runs_per_s": round(len(done) / elapsed, 1),
        "submit_s": round(submit_s, 2),
        "latency": summary(latency),
        "running": summary(running),
    }


def cpu_by_process(sessions: dict[str, int]) -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) of every live process: which named session it belongs to
    (a node's processes share the session of its ``ray start``), ``client`` for this process,
    ``other`` for the rest of the machine (say, someone else's tests)."""
    owner = {sid: name for name, sid in sessions.items()}
    me = os.getpid()
    found = {}
    for proc in psutil.process_iter():
        try:
            name = "client" if proc.pid == me else owner.get(os.getsid(proc.pid), "other")
            t = proc.cpu_times()
            found[proc.pid] = (name, t.user + t.system)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return found


@contextmanager
def cpu_used(sessions: dict[str, int], into: dict[str, Any], runs: int) -> Iterator[None]:
    """CPU per run by node over the block, and the share of both cores each group kept busy
    (a process that ended inside the block is missed; one that began counts in full)."""
    before = cpu_by_process(sessions)
    started = time.perf_counter()
    yield
    wall = time.perf_counter() - started
    used = dict.fromkeys([*sessions, "client", "other"], 0.0)
    for pid, (name, cpu) in cpu_by_process(sessions).items():
        used[name] += cpu - before.get(pid, (name, 0.0))[1]
    into["cpu_ms_per_run"] = {k: round(v / runs * 1000, 2) for k, v in used.items() if k != "other"}
    into["share_of_2_cores"] = {k: round(v / wall / 2, 2) for k, v in used.items()}


def placement(client: Any) -> dict[str, Any]:
    """The runtime's actors per node, by role ('head' / 'worker'), from ``hub status``; and
    why they are unknown, when Ray's state API did not answer."""
    status = client.status()
    out: dict[str, Any] = {}
    for node in status["nodes"]:
        if node["alive"]:
            roles = {k: v for k, v in node["roles"].items() if k not in ("api",)}
            out["head" if node["head"] else "worker"] = roles
    if status.get("placement_unknown"):
        out["unknown"] = status["placement_unknown"]
    out["pool_sizes"] = status.get("node_pools")
    return out


def desktop_latency(client: Any, warm_runs: int, problems: Problems) -> dict[str, Any] | None:
    wf = desktop_move()
    client.register(wf)

    def once() -> tuple[float, float, float] | None:
        started = time.perf_counter()
        try:
            record = client.run(wf["id"], timeout_s=WAIT_S)
        except Exception as exc:
            problems.add(f"desktop run: {type(exc).__name__}: {exc}")
            return None
        wall = time.perf_counter() - started
        if record.status != "completed":
            problems.add(f"desktop run {record.id}: {record.status} {record.error}")
            return None
        step = next(s for s in record.steps if s.node_id == "move")
        output = record.outputs["move"]
        if not output.get("dry_run"):
            problems.add(f"desktop run {record.id}: not a dry run: {output}")
        return (
            wall,
            seconds(record.created_at, step.ended_at),
            seconds(step.started_at, step.ended_at),
        )

    cold = once()
    if cold is None:
        return None
    warm = [s for s in (once() for _ in range(warm_runs)) if s is not None]
    where = client.status()["desktop"]
    return {
        "cold": {
            "client_ms": round(cold[0] * 1000, 1),
            "created_to_step_end_ms": round(cold[1] * 1000, 1),
            "step_ms": round(cold[2] * 1000, 1),
        },
        "warm": {
            "runs": len(warm),
            "client": summary([s[0] for s in warm]),
            "created_to_step_end": summary([s[1] for s in warm]),
            "step": summary([s[2] for s in warm]),
        },
        "desktop_actor": {k: where.get(k) for k in ("node_id", "display")} if where else None,
    }


# --- clusters ------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(
        HUB_NODE_MODULES="bench.bench_nodes",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        HUB_ENABLE_DESKTOP="1",
        HUB_DESKTOP_DRY_RUN="1",
    )
    return env


def scenario(
    name: str,
    *,
    display: str | None,
    desktop_on: str | None,
    worker: dict[str, float] | None,
    pin: bool,
    runs: dict[str, int],
) -> dict[str, Any]:
    print(f"== {name}", file=sys.stderr)
    problems = Problems()
    env = base_env()
    if pin:
        env["HUB_NODE_POOL_RESOURCES"] = json.dumps({POOLED: {"edge": 0.1}})
    head_args: tuple[str, ...] = ()
    if desktop_on == "head":
        env["DISPLAY"] = display or ""
        head_args = ("--desktop",)
    home = Path(tempfile.mkdtemp(prefix=f"hub-bench-{name}-"))
    cluster = LocalCluster.create(home, env)
    result: dict[str, Any] = {"loadavg_1m_at_start": round(os.getloadavg()[0], 2)}
    t0 = time.perf_counter()
    client = None
    try:
        info = cluster.up(head_args)
        result["head_up_s"] = round(time.perf_counter() - t0, 1)
        sessions = {"head": int(info["pid"])}
        if worker is not None:
            t1 = time.perf_counter()
            worker_env = {"DISPLAY": display} if desktop_on == "worker" and display else None
            w = cluster.add_worker(worker, env=worker_env)
            result["worker_join_s"] = round(time.perf_counter() - t1, 1)
            sessions["worker"] = w.pid
        import hub

        client = hub.connect(home=home)
        for wf in WORKLOADS.values():
            client.register(wf)
        # Warm: pools made, plans cached, every ExecutionActor has run something.
        for workload in WORKLOADS:
            burst(client, workload, 24, problems)
        for workload in WORKLOADS:
            print(f"  {workload}", file=sys.stderr)
            entry: dict[str, Any] = {"serial": serial(client, workload, runs["serial"], problems)}
            n = runs["burst_fanout"] if workload.startswith("fanout") else runs["burst"]
            with cpu_used(sessions, entry, n):
                entry["burst"] = burst(client, workload, n, problems)
            result[workload] = entry
        result["placement"] = placement(client)
        if desktop_on is not None:
            print("  desktop", file=sys.stderr)
            result["desktop"] = desktop_latency(client, runs["desktop_warm"], problems)
            status = client.status()
            head = next(n["node_id"] for n in status["nodes"] if n["head"])
            actor = (result["desktop"] or {}).get("desktop_actor") or {}
            if actor.get("node_id"):
                result["desktop"]["on"] = "head" if actor["node_id"] == head else "worker"
    finally:
        if client is not None:
            client.close()
        cluster.down()
    result["problems"] = problems.items
    if problems.items:  # keep the store and the logs to look at
        result["home"] = str(home)
    else:
        shutil.rmtree(home, ignore_errors=True)
    result["scenario_s"] = round(time.perf_counter() - t0, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="run one scenario (one-node, two-node-pinned, ...)")
    args = parser.parse_args()
    runs = (
        {"serial": 10, "burst": 48, "burst_fanout": 24, "desktop_warm": 10}
        if args.quick
        else {"serial": 30, "burst": 160, "burst_fanout": 64, "desktop_warm": 30}
    )
    # The client compiles workflows before it sends them: it must know the bench's node type.
    os.environ["HUB_NODE_MODULES"] = "bench.bench_nodes"
    started = time.perf_counter()
    results: dict[str, Any] = {
        "cores": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
    }
    have_xvfb = shutil.which("Xvfb") is not None
    if not have_xvfb:
        results["desktop_skipped"] = "Xvfb is not installed (apt-get install xvfb)"
        print("Xvfb not installed: the desktop measures are skipped", file=sys.stderr)

    def xvfb() -> Any:
        if not have_xvfb:
            return nullcontext(None)
        from tests.e2e.xvfb import running_xvfb

        return running_xvfb()

    plans: list[tuple[str, Callable[[str | None], dict[str, Any]]]] = [
        (
            "one-node",
            lambda d: scenario(
                "one-node",
                display=d,
                desktop_on="head" if d else None,
                worker=None,
                pin=False,
                runs=runs,
            ),
        ),
        (
            "two-node-pinned",
            lambda d: scenario(
                "two-node-pinned",
                display=d,
                desktop_on="worker" if d else None,
                worker={"edge": 2, "desktop": 1},
                pin=True,
                runs=runs,
            ),
        ),
        (
            "two-node-spread",
            lambda d: scenario(
                "two-node-spread", display=None, desktop_on=None, worker={}, pin=False, runs=runs
            ),
        ),
    ]
    for name, plan in plans:
        if args.only and name != args.only:
            continue
        with xvfb() as display:
            results[name] = plan(display)
    results["total_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()

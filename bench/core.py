"""Core runtime benchmarks (issue #2). Reports numbers; asserts nothing.

    .venv/bin/python bench/core.py            # all measures, about 3 minutes
    .venv/bin/python bench/core.py --quick    # fewer repetitions

It starts its own background runtime (``hub up`` in a temporary HUB_HOME, SQLite store, code
nodes enabled, the no-op action node of bench/bench_nodes.py) and stops it at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HUB = str(Path(sys.executable).with_name("hub"))


def chain(
    workflow_id: str, node_type: str, n: int, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    nodes = [{"id": f"n{i}", "type": node_type, "parameters": parameters or {}} for i in range(n)]
    edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(n - 1)]
    return {"id": workflow_id, "nodes": nodes, "edges": edges}


def median_s(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm: pools created, plans cached
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


FIBO = (
    "def fibo(n):\n    return n if n < 2 else fibo(n - 1) + fibo(n - 2)\n\n"
    "def main(input):\n    return {'value': fibo(input['n'])}\n"
)


def run(client: Any, workflow_id: str, inputs: dict[str, Any] | None = None) -> Any:
    record = client.run(workflow_id, inputs or {})
    assert record.status == "completed", record.error
    return record


def raw_ray_floor(n: int, repeat: int) -> float:
    import ray

    @ray.remote(num_cpus=0)
    class Echo:
        async def call(self, x: int) -> int:
            return x

    actor = Echo.remote()  # type: ignore[attr-defined]

    def sequence() -> None:
        for i in range(n):
            ray.get(actor.call.remote(i))

    result = median_s(sequence, repeat)
    ray.kill(actor)
    return result


def calls_per_s(fn: Callable[[], Any], submitters: int, per: int) -> float:
    """Calls of ``fn`` per second with ``submitters`` threads calling it ``per`` times each."""
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(per):
                fn()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(submitters)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return submitters * per / elapsed


def throughput(client: Any, workflow_id: str, submitters: int, total: int) -> float:
    return calls_per_s(lambda: run(client, workflow_id), submitters, total // submitters)


def start_latency(client: Any, workflow_id: str, repeat: int) -> float:
    """Submit -> first step running, from the step_started event's timestamp."""
    samples = []
    for _ in range(repeat):
        submitted = time.time()
        record = client.run(workflow_id, wait=False)
        for event in client.watch(record.id):
            if event.type == "step_started":
                samples.append(event.ts.timestamp() - submitted)
                break
        client.wait(record.id)
    return statistics.median(samples)


def cold_start_latency(env: dict[str, str]) -> float:
    """Submit -> first step running on a fresh runtime that keeps no warm ExecutionActor:
    the run pays for starting the actor's process. One sample per fresh runtime."""
    cold_env = dict(
        env, HUB_HOME=tempfile.mkdtemp(prefix="hub-bench-cold-"), HUB_WARM_EXECUTION_ACTORS="0"
    )
    os.environ.update(cold_env)
    subprocess.run(
        [HUB, "up", "--port", "6399", "--dashboard-port", "8279"],
        env=cold_env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        import hub

        client = hub.connect()
        client.register(chain("three", "set", 3))
        latency = start_latency(client, "three", 1)
        client.close()
    finally:
        subprocess.run([HUB, "down"], env=cold_env, check=False, stdout=subprocess.DEVNULL)
    return latency


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    home = tempfile.mkdtemp(prefix="hub-bench-")
    env = dict(
        os.environ,
        HUB_HOME=home,
        HUB_ENABLE_CODE_NODES="1",
        HUB_NODE_MODULES="bench.bench_nodes",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    os.environ.update(env)
    subprocess.run(
        [HUB, "up", "--port", "6397", "--dashboard-port", "8277"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    results: dict[str, Any] = {}
    try:
        sys.path.insert(0, str(ROOT))
        import hub

        client = hub.connect()
        for wf in (
            chain("set-100", "set", 100),
            chain("noop-100", "bench.noop", 100),
            chain("fibo10-40", "code", 40, {"source": FIBO, "input": {"n": 10}}),
            chain("fibo33-10", "code", 10, {"source": FIBO, "input": {"n": 33}}),
            chain("three", "set", 3),
        ):
            client.register(wf)

        floor = raw_ray_floor(100, repeat)
        inline = median_s(lambda: run(client, "set-100"), repeat)
        pooled = median_s(lambda: run(client, "noop-100"), repeat)
        results["raw_ray_100_calls_s"] = floor
        results["inline_100_chain_s"] = inline
        results["pooled_100_chain_s"] = pooled
        results["inline_step_ms"] = inline / 100 * 1000
        results["pooled_step_ms"] = pooled / 100 * 1000
        results["raw_ray_call_ms"] = floor / 100 * 1000

        fib10 = median_s(lambda: run(client, "fibo10-40"), repeat)
        fib33 = median_s(lambda: run(client, "fibo33-10"), max(1, repeat // 3))
        results["fibo10_x40_s"] = fib10
        results["fibo33_x10_s"] = fib33

        throughput(client, "three", 16, 64)  # warm: every execution actor exists
        for submitters in (1, 4, 16):
            total = 96 if args.quick else 192
            results[f"three_node_exec_per_s_{submitters}"] = throughput(
                client, "three", submitters, total
            )

        results["start_latency_warm_ms"] = start_latency(client, "three", repeat * 3) * 1000
        results["status"] = client.status()["execution_actors"]
        client.close()
    finally:
        subprocess.run([HUB, "down"], env=env, check=False, stdout=subprocess.DEVNULL)
    results["start_latency_cold_ms"] = cold_start_latency(env) * 1000
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()

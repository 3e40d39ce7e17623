"""The price of durability, and how fast a run comes back (issue #4). Reports numbers; asserts
nothing.

    .venv/bin/python bench/durability.py            # about 3 minutes
    .venv/bin/python bench/durability.py --quick

1. Per-step cost of committing each action step before its dependents start (the default,
   ``HUB_STEP_COMMIT=step``) against batching an execution's records (``execution``): the same
   100-step chain of a no-op action node, and a 100-step chain of inline ``set`` steps, on two
   runtimes that differ only in that setting.
2. Recovery time: kill -9 the ExecutionActor mid-run and measure, from the kill, when the run's
   ``execution_resumed`` event and its next ``step_started`` happen (Ray restarts the actor and
   repeats the call, the actor replays the stored steps). The same after killing the supervisor
   (a new supervisor, new actors, every running execution re-leased).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("RAY_AUTH_MODE", "token")  # as hub does, whichever is imported first

from bench.core import HUB, chain, median_s, run  # noqa: E402


def start_runtime(env: dict[str, str], port: int) -> None:
    subprocess.run(
        [HUB, "up", "--port", str(port), "--dashboard-port", str(port + 1900)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def stop_runtime(env: dict[str, str]) -> None:
    subprocess.run([HUB, "down"], env=env, check=False, stdout=subprocess.DEVNULL)


def environment(commit: str) -> dict[str, str]:
    return dict(
        os.environ,
        HUB_HOME=tempfile.mkdtemp(prefix=f"hub-bench-{commit}-"),
        HUB_STEP_COMMIT=commit,
        HUB_NODE_MODULES="bench.bench_nodes",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )


def step_costs(commit: str, repeat: int, port: int) -> dict[str, float]:
    """Per-step milliseconds of a 100-step pooled chain and a 100-step inline chain."""
    env = environment(commit)
    os.environ.update(env)
    start_runtime(env, port)
    try:
        import hub

        client = hub.connect()
        client.register(chain("noop-100", "bench.noop", 100))
        client.register(chain("set-100", "set", 100))
        pooled = median_s(lambda: run(client, "noop-100"), repeat)
        inline = median_s(lambda: run(client, "set-100"), repeat)
        client.close()
    finally:
        stop_runtime(env)
    return {"pooled_step_ms": pooled * 10, "inline_step_ms": inline * 10}


def recovery_times(repeat: int, port: int) -> dict[str, Any]:
    import ray

    import hub

    env = environment("step")
    os.environ.update(env)
    start_runtime(env, port)
    try:
        client = hub.connect()
        doc = chain("slow-noop", "bench.noop", 30)
        doc["nodes"].insert(0, {"id": "wait", "type": "delay", "parameters": {"seconds": 0.3}})
        doc["edges"].insert(0, {"from": "wait", "to": "n0"})
        client.register(doc)
        run(client, "slow-noop")  # warm
        supervisor = ray.get_actor("supervisor", namespace="runtime-hub")

        def measure(kill_supervisor: bool) -> tuple[float, float]:
            record = client.run("slow-noop", wait=False)
            for event in client.watch(record.id):
                if event.type == "step_completed" and event.node_id == "n10":
                    break
            where = ray.get(supervisor.where.remote())
            pid = where["pid"] if kill_supervisor else where["executions"][record.id]["pid"]
            killed = time.time()
            os.kill(pid, signal.SIGKILL)
            resumed = next_step = None
            for event in client.watch(record.id):
                if event.type == "execution_resumed":
                    resumed = event.ts.timestamp() - killed
                elif resumed is not None and event.type == "step_started":
                    next_step = event.ts.timestamp() - killed
                    break
            final = client.wait(record.id, timeout_s=120)
            assert final.status == "completed", final.error
            assert resumed is not None and next_step is not None
            return resumed, next_step

        actor = [measure(False) for _ in range(repeat)]
        sup = [measure(True) for _ in range(max(2, repeat // 2))]
        client.close()
    finally:
        stop_runtime(env)
    return {
        "actor_kill_to_resumed_s": statistics.median(r for r, _ in actor),
        "actor_kill_to_next_step_s": statistics.median(n for _, n in actor),
        "supervisor_kill_to_resumed_s": statistics.median(r for r, _ in sup),
        "supervisor_kill_to_next_step_s": statistics.median(n for _, n in sup),
        "samples": {"actor": actor, "supervisor": sup},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    results: dict[str, Any] = {
        "commit_each_step": step_costs("step", repeat, 6401),
        "commit_per_execution": step_costs("execution", repeat, 6403),
    }
    results["recovery"] = recovery_times(repeat, 6405)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()

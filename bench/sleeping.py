"""What waiting costs (issue 16): executions sleeping in a long ``delay`` at once, and the memory
and processes of the runtime before and after. Reports numbers; asserts nothing.

    .venv/bin/python bench/sleeping.py              # 1,000 then 10,000 sleepers, ~4 minutes
    .venv/bin/python bench/sleeping.py --counts 1000
    .venv/bin/python bench/sleeping.py --shared --counts 1000 5000

``--shared``: the executions do not park (HUB_PARK_DELAY_S=off) but stay live, each an asyncio
task on the shared ExecutionActor (docs/dsl.md, "Isolation modes"); the bench waits until the
supervisor counts them all on it.

Each count gets a runtime of its own (``hub up`` in a temporary HUB_HOME, SQLite store, the
default settings: 8 ExecutionActors at most, delays of 60 s or more park). 16 threads start the
executions of a one-node workflow (``delay`` of an hour) through ``hub.connect()``; the bench
waits until the supervisor counts every one of them sleeping, then sums the memory (USS: what
each process alone holds) and counts the processes of the runtime's session. ``hub down`` at the
end leaves them unfinished in a store that is thrown away.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from bench.core import HUB  # noqa: E402
from hub._processes import free_port, session_members  # noqa: E402

SLEEPER = {
    "id": "sleeper",
    "nodes": [{"id": "nap", "type": "delay", "parameters": {"seconds": 3600}}],
}
SHARED_WAITER = {
    "id": "sleeper",
    "settings": {"isolation": "shared"},
    "nodes": [{"id": "nap", "type": "delay", "parameters": {"seconds": 3600}}],
}


def runtime_memory(head_pid: int) -> tuple[int, float]:
    """(processes, MB of unique memory) of the runtime's session: the Ray head and all it runs."""
    count, uss = 0, 0
    for pid in {head_pid, *session_members(head_pid)}:
        try:
            uss += psutil.Process(pid).memory_full_info().uss
            count += 1
        except psutil.Error:
            continue
    return count, uss / 2**20


def waiting(status: dict[str, Any], shared: bool) -> int:
    """How many executions wait: parked, or live on the shared actors."""
    return int(status["execution_actors"]["shared_runs"] if shared else status["sleeping"])


def measure(count: int, shared: bool = False) -> dict[str, Any]:
    home = tempfile.mkdtemp(prefix="hub-bench-sleeping-")
    env = dict(os.environ, HUB_HOME=home)
    if shared:
        env.update(HUB_PARK_DELAY_S="off", HUB_SHARED_MAX_EXECUTIONS=str(max(1000, count + 1)))
    ports = ["--port", str(free_port()), "--dashboard-port", str(free_port())]
    up = [HUB, "up", "--json", *ports, "--api-port", str(free_port())]
    info = json.loads(subprocess.run(up, env=env, check=True, capture_output=True).stdout)
    os.environ.update(env)
    import hub

    try:
        client = hub.connect()
        client.register(SHARED_WAITER if shared else SLEEPER)
        client.run("sleeper", wait=False)  # warm: an actor leased (parked: released) once
        time.sleep(3)
        before = runtime_memory(info["pid"])
        started = time.perf_counter()
        threads = []
        for i in range(16):
            share = count // 16 + (i < count % 16)
            thread = threading.Thread(
                target=lambda n=share: [client.run("sleeper", wait=False) for _ in range(n)]
            )
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        submitted = time.perf_counter() - started
        deadline = time.monotonic() + 1200
        while waiting(client.status(), shared) < count + 1 and time.monotonic() < deadline:
            time.sleep(0.5)
        asleep = time.perf_counter() - started
        status = client.status()
        after = runtime_memory(info["pid"])
        client.close()
    finally:
        subprocess.run([HUB, "down"], env=env, check=False, capture_output=True)
    return {
        "executions": count + 1,
        "mode": "shared" if shared else "parked",
        "waiting": waiting(status, shared),
        "execution_actors": status["execution_actors"],
        "submitted_s": round(submitted, 1),
        "all_asleep_s": round(asleep, 1),
        "processes_before": before[0],
        "processes_after": after[0],
        "uss_mb_before": round(before[1]),
        "uss_mb_after": round(after[1]),
        "extra_mb": round(after[1] - before[1]),
        "extra_kb_per_execution": round((after[1] - before[1]) * 1024 / (count + 1), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--shared", action="store_true", help="live on a shared actor, not parked")
    args = parser.parse_args()
    results = [measure(count, args.shared) for count in args.counts]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

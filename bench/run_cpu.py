"""Where a run's CPU goes, process by process, under load (issue #16). Reports; asserts nothing.

    .venv/bin/python bench/run_cpu.py                       # both isolation modes, ~2 minutes
    .venv/bin/python bench/run_cpu.py --isolation auto --seconds 30

Starts its own ``hub up`` runtime (as bench/peers.py does), registers a chain of three ``set``
nodes in the isolation mode asked for (declared by the workflow), warms it with 16 submitters,
then runs it from 16 threads for ``--seconds`` and reports executions/s and the CPU time
(user + system, psutil) each of the machine's processes spent a run over that window: the
supervisor, the ExecutionActors together, the client (this process), and the rest by name.
Then raw Ray's three-call chains/s on the same cluster (bench/peers.py's floor), so the ratio
of the two comes from the same minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.core import calls_per_s, chain  # noqa: E402
from bench.peers import THREE_SUBMITTERS, hub_runtime, isolated  # noqa: E402

# Process names as Ray titles them, in the order they are matched; the rest is "other".
GROUPS = (
    ("supervisor", "SupervisorActor"),
    ("ExecutionActors", "ExecutionActor"),
    ("Recorder", "Recorder"),
    ("GCS", "gcs_server"),
    ("raylet", "raylet"),
)


def cpu_by_process() -> dict[int, tuple[str, float]]:
    found = {}
    for process in psutil.process_iter(["pid", "cmdline", "cpu_times"]):
        try:
            times = process.info["cpu_times"]
            found[process.info["pid"]] = (
                " ".join(process.info["cmdline"] or []),
                times.user + times.system,
            )
        except (psutil.Error, TypeError):
            continue
    return found


def group_of(pid: int, command: str) -> str:
    if pid == os.getpid():
        return "client (the submitters)"
    for name, marker in GROUPS:
        if marker in command:
            return name
    return "other (Ray's agents, Serve, the rest)"


def measure(client: Any, workflow_id: str, seconds: float) -> tuple[float, dict[str, float]]:
    """Executions/s from THREE_SUBMITTERS threads for ``seconds``, and each group's CPU ms a
    run over that window."""

    def run() -> None:
        record = client.run(workflow_id)
        assert record.status == "completed", record.error

    calls_per_s(run, THREE_SUBMITTERS, 20)  # warm: pools grown, plans cached
    done = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def submitter() -> None:
        while time.monotonic() < stop:
            run()
            with lock:
                done[0] += 1

    before = cpu_by_process()
    started = time.monotonic()
    threads = [threading.Thread(target=submitter) for _ in range(THREE_SUBMITTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    after = cpu_by_process()
    runs = done[0]
    spent: dict[str, float] = defaultdict(float)
    for pid, (command, cpu) in after.items():
        spent[group_of(pid, command)] += cpu - before.get(pid, (command, 0.0))[1]
    return runs / elapsed, {name: 1000 * cpu / runs for name, cpu in spent.items()}


def raw_ray_three_per_s() -> float:
    import ray

    @ray.remote(num_cpus=0)
    class Worker:
        def noop(self, value: Any) -> Any:
            return value

    actors = [Worker.remote() for _ in range(3)]  # type: ignore[attr-defined]
    ray.get([a.noop.remote(0) for a in actors])

    def three_chain() -> None:
        value: Any = {}
        for actor in actors:
            value = ray.get(actor.noop.remote(value))

    calls_per_s(three_chain, THREE_SUBMITTERS, 30)
    rates = sorted(calls_per_s(three_chain, THREE_SUBMITTERS, 120) for _ in range(3))
    for actor in actors:
        ray.kill(actor)
    return rates[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--isolation", choices=("exclusive", "auto", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    modes = ("exclusive", "auto") if args.isolation == "both" else (args.isolation,)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    with hub_runtime(env) as own:
        os.environ.update(own)
        import hub

        client = hub.connect()
        for mode in modes:
            workflow_id = f"three-{mode}"
            client.register(isolated(chain(workflow_id, "set", 3), mode))
            rate, spent = measure(client, workflow_id, args.seconds)
            print(f"\n{mode}: {rate:.0f} executions/s; CPU a run, by process:")
            for name, ms in sorted(spent.items(), key=lambda item: -item[1]):
                print(f"  {name:40} {ms:6.2f} ms")
            print(f"  {'all':40} {sum(spent.values()):6.2f} ms")
        floor = raw_ray_three_per_s()
        print(f"\nraw Ray: {floor:.0f} three-call chains/s (median of 3), same cluster")
        client.close()


if __name__ == "__main__":
    main()

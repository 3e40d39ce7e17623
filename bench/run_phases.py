"""Where one execution's time goes, from the client's call to its answer (issue #16). Reports;
asserts nothing.

    .venv/bin/python bench/run_phases.py            # about a minute; --runs N

Starts its own ``hub up`` runtime (as bench/peers.py does: SQLite store, code nodes on, the
no-op action node of bench/bench_nodes.py) and runs three chains one at a time: 100 and 10
no-op pooled steps and 40 x fibo(10) code steps. Each phase comes from the timestamps the
runtime stored with the execution (created, started, each step's start and end, ended) and the
client's clock around ``client.run``, on the same machine: the client's call until the
execution is created, its creation until it starts on an ExecutionActor, the steps, and its end
until the client has the answer. Medians over the runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.core import FIBO, chain  # noqa: E402
from bench.peers import hub_runtime  # noqa: E402

PHASES = (
    "call → created",
    "created → started",
    "started → first step",
    "the steps",
    "last step → ended",
    "ended → answer",
    "total",
)


def phases(record: Any, called: float, answered: float) -> list[float]:
    steps = sorted(record.steps, key=lambda s: s.started_at)
    first = steps[0].started_at.timestamp()
    last = max(s.ended_at.timestamp() for s in steps)
    created, started = record.created_at.timestamp(), record.started_at.timestamp()
    ended = record.ended_at.timestamp()
    return [
        created - called,
        started - created,
        first - started,
        last - first,
        ended - last,
        answered - ended,
        answered - called,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    env = dict(
        os.environ,
        HUB_ENABLE_CODE_NODES="1",
        HUB_NODE_MODULES="bench.bench_nodes",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    workflows = (
        chain("noop-100", "bench.noop", 100),
        chain("noop-10", "bench.noop", 10),
        chain("fibo", "code", 40, {"source": FIBO, "input": {"n": 10}}),
    )
    with hub_runtime(env) as own:
        import hub

        os.environ.update(own)
        client = hub.connect()
        print(f"| chain | {' | '.join(PHASES)} |\n|---|{'---|' * len(PHASES)}")
        for workflow in workflows:
            client.register(workflow)
            for _ in range(3):
                client.run(workflow["id"])  # warm: pools, plans, connections
            samples = []
            for _ in range(args.runs):
                called = time.time()
                record = client.run(workflow["id"])
                answered = time.time()
                assert record.status == "completed", record.error
                samples.append(phases(record, called, answered))
            medians = [statistics.median(column) * 1e3 for column in zip(*samples, strict=True)]
            print(f"| {workflow['id']} | {' | '.join(f'{m:.2f} ms' for m in medians)} |")
        client.close()


if __name__ == "__main__":
    main()

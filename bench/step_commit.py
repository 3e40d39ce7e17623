"""What one step commit costs on SQLite (issue #16): ``Store.commit_steps`` straight through the
driver (hub/store/_sqlite_steps.py, the default) against the same call through SQLAlchemy.
Reports; asserts nothing.

    .venv/bin/python bench/step_commit.py            # a few seconds; --commits N

Each commit is one code step's finished row (its input holds the node's source), in its own
transaction, as an ExecutionActor stores it before the step's dependents run; the file is a
fresh SQLite database in WAL mode, as ``hub up`` makes it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from hub.records import (
    CreateExecution,
    ExecutionRecord,
    ExecutionStatus,
    StepRecord,
    StepStatus,
    utcnow,
)
from hub.store import Store

SOURCE = "def main(input):\n    return {'value': input['n'] * 2}\n"


def step(i: int) -> StepRecord:
    now = utcnow()
    return StepRecord(
        node_id=f"n{i}",
        node_type="code",
        status=StepStatus.COMPLETED,
        attempts=1,
        started_at=now,
        ended_at=now,
        input={"source": SOURCE, "input": {"n": i}},
        output={"value": i * 2},
    )


def per_commit_ms(store: Store, commits: int) -> float:
    execution = ExecutionRecord(
        id=f"bench-{time.monotonic_ns()}",
        workflow_id="bench",
        workflow_version="1",
        status=ExecutionStatus.RUNNING,
    )
    store.apply([CreateExecution(record=execution)])
    steps = [step(i) for i in range(commits)]
    started = time.perf_counter()
    for one in steps:
        store.commit_steps(execution.id, "bench", [one])
    return (time.perf_counter() - started) / commits * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with Store(f"sqlite:///{Path(tempfile.mkdtemp(prefix='hub-commit-')) / 'hub.db'}") as store:
        driver = store._sqlite_steps
        samples: dict[str, list[float]] = {"driver": [], "sqlalchemy": []}
        per_commit_ms(store, 200)  # warm
        for _ in range(args.rounds):  # alternating, so both see the same machine
            store._sqlite_steps = driver
            samples["driver"].append(per_commit_ms(store, args.commits))
            store._sqlite_steps = None
            samples["sqlalchemy"].append(per_commit_ms(store, args.commits))
    print("| path | one step commit (median of rounds) | min | max |\n|---|---|---|---|")
    for path, values in samples.items():
        print(
            f"| {path} | {statistics.median(values):.3f} ms | {min(values):.3f} ms "
            f"| {max(values):.3f} ms |"
        )


if __name__ == "__main__":
    main()

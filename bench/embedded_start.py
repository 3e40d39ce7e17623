"""Where an embedded runtime's first run spends its time (issue #16): what ``hub run
examples/hello.json`` does, in this process, with a clock at each phase. Reports; asserts
nothing.

    .venv/bin/python bench/embedded_start.py          # about 20 s a run; --runs N

Each run is a fresh interpreter (this script again, with --one) in a new HUB_HOME, in a
newcomer's environment (no HUB_* settings): import hub, ``ray.init`` (Ray's own processes),
the supervisor and Recorder ready, the submit, the run's created -> started and started ->
ended as the runtime stored them, and ``ray.shutdown``. Medians over the runs.

For the whole command against a bare ``ray.init(); ray.shutdown()``, as the issue's target
reads it, see bench/peers.py's start figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PHASES = ["import hub", "ray.init", "supervisor and Recorder", "submit", "answer"]
PHASES += ["created -> started", "run", "shutdown", "total"]


def one() -> dict[str, float]:
    started = time.perf_counter()
    at: dict[str, float] = {}  # seconds since the start, at the end of each phase

    def mark(phase: str) -> None:
        at[phase] = time.perf_counter() - started

    import hub
    from hub import runtime

    mark("import hub")
    import ray

    init, create = ray.init, runtime._create_supervisor

    def timed_init(*args: Any, **kwargs: Any) -> Any:
        context = init(*args, **kwargs)
        mark("ray.init")
        return context

    def timed_create(*args: Any, **kwargs: Any) -> Any:
        made = create(*args, **kwargs)
        mark("supervisor and Recorder")
        return made

    ray.init, runtime._create_supervisor = timed_init, timed_create  # type: ignore[assignment]
    client = hub.connect(serve_api="lazy", triggers=False)
    doc = json.loads((ROOT / "examples" / "hello.json").read_text())
    record = client.run(doc, {"name": "Ada"}, wait=False, trigger="cli")
    mark("submit")
    final = client.wait(record.id)
    mark("answer")
    assert final.status.value == "completed", final.error
    assert final.started_at and final.ended_at
    client.close()
    mark("shutdown")
    order = ["import hub", "ray.init", "supervisor and Recorder", "submit", "answer", "shutdown"]
    phases = {p: at[p] - (at[order[i - 1]] if i else 0.0) for i, p in enumerate(order)}
    # The wait for the answer, split as the runtime stored the run's times.
    phases["created -> started"] = (final.started_at - final.created_at).total_seconds()
    phases["run"] = (final.ended_at - final.started_at).total_seconds()
    phases["total"] = at["shutdown"]
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one()))
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "RAY_ADDRESS"))}
    env["PYTHONPATH"] = str(ROOT)
    samples = []
    for _ in range(args.runs):
        home = tempfile.mkdtemp(prefix="hub-embedded-start-")
        done = subprocess.run(
            [sys.executable, __file__, "--one"],
            env=dict(env, HUB_HOME=home),
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for phase in PHASES:
        values = [s[phase] for s in samples]
        low, high = min(values), max(values)
        print(f"{phase:>24}: {statistics.median(values):6.2f} s  ({low:.2f}-{high:.2f})")


if __name__ == "__main__":
    main()

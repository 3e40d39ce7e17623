"""What a new actor process pays before its first call: the import of its actor's module, in a
fresh interpreter that has imported Ray already (as Ray's worker has), and the process's memory
after it. Medians of ``--repeat`` fresh interpreters.

    .venv/bin/python bench/imports.py            # --repeat 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("actors.execution", "actors.node_pool", "actors.recorder", "actors.supervisor")
PROBE = """
import json, resource, sys, time
import ray
started = time.perf_counter()
__import__(sys.argv[1])
took = time.perf_counter() - started
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"import_s": took, "rss_mb": rss_mb}))
"""


def measure(module: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print("| actor module | import (median) | max RSS after it |")
    print("|---|---|---|")
    for module in MODULES:
        runs = [measure(module) for _ in range(args.repeat)]
        took = statistics.median(r["import_s"] for r in runs)
        rss = statistics.median(r["rss_mb"] for r in runs)
        print(f"| `{module}` | {took:.2f} s | {rss:.0f} MB |")


if __name__ == "__main__":
    main()

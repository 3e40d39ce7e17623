"""How fast a ``foreach`` goes through its items (issue #17). Reports numbers; asserts nothing.

    .venv/bin/python bench/foreach_items.py        # a few minutes; --items N, --repeat N

On a background runtime (``hub up`` in a temporary HUB_HOME, SQLite store, defaults), one
foreach step per execution, at concurrency 1, 8 and 32, over three kinds of no-op item:

- **sub-workflow, shared**: a child execution per item (``workflow_id``) whose workflow is one
  ``set`` node and runs in the ``shared`` isolation mode: the child's start through the
  supervisor, its run, its end committed, and the parent's wait;
- **sub-workflow, exclusive**: the same child in the default isolation mode (an
  ExecutionActor leased per child, at most ``max_concurrent_executions`` at once);
- **pooled node**: the no-op action node of bench/bench_nodes.py per item (``node``): a call
  to a node-pool actor and the item's row committed.

items/s = items / the execution's wall time (submit to end, as the client sees it), median of
the repetitions. Each item's row is durable before the next node call (docs/dsl.md, "Loops").
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

from bench.peers import hub_runtime  # noqa: E402

CONCURRENCY = (1, 8, 32)


def parent(workflow_id: str, per_item: dict[str, Any], concurrency: int) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "inputs": {"items": {"type": "array", "required": True}},
        "settings": {"isolation": "shared"},
        "nodes": [
            {
                "id": "each",
                "type": "foreach",
                "parameters": {
                    "items": "{{ $input.items }}",
                    "concurrency": concurrency,
                    **per_item,
                },
            }
        ],
    }


def child(workflow_id: str, isolation: str) -> dict[str, Any]:
    return {
        "id": workflow_id,
        "inputs": {"item": {"type": "integer", "required": True}},
        "settings": {"isolation": isolation},
        "nodes": [
            {"id": "noop", "type": "set", "parameters": {"values": {"i": "{{ $input.item }}"}}}
        ],
    }


KINDS: dict[str, dict[str, Any]] = {
    "sub-workflow, shared": {"workflow_id": "noop-shared"},
    "sub-workflow, exclusive": {"workflow_id": "noop-exclusive"},
    "pooled node": {"node": {"type": "bench.noop"}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    env = dict(
        os.environ,
        HUB_NODE_MODULES="bench.bench_nodes",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    import hub

    rows: list[tuple[str, int, str]] = []
    with hub_runtime(env) as own:
        os.environ.update(own)
        client = hub.connect()
        client.register(child("noop-shared", "shared"))
        client.register(child("noop-exclusive", "exclusive"))
        for kind, per_item in KINDS.items():
            for concurrency in CONCURRENCY:
                workflow_id = f"each-{len(rows)}"
                client.register(parent(workflow_id, per_item, concurrency))
                client.run(
                    workflow_id, {"items": list(range(8))}
                )  # warm: pools, actors, the child's plan
                seconds = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    record = client.run(
                        workflow_id, {"items": list(range(args.items))}, timeout_s=900
                    )
                    seconds.append(time.perf_counter() - started)
                    assert record.status == "completed", record.error
                    assert len(record.outputs["each"]["results"]) == args.items
                mid, best = statistics.median(seconds), min(seconds)
                figure = f"{args.items / mid:,.0f} items/s (median {mid:.2f} s, best {best:.2f} s)"
                rows.append((kind, concurrency, figure))
                print(kind, concurrency, figure, flush=True)
        client.close()
    print(f"\n{args.items} items per execution, {args.repeat} repetitions\n")
    print("| item | concurrency | measured |\n|---|---|---|")
    for kind, concurrency, figure in rows:
        print(f"| {kind} | {concurrency} | {figure} |")


if __name__ == "__main__":
    main()

"""How fast the ``sql`` node reads (issue #17): a 10,000-row read from PostgreSQL, MariaDB and
SQLite. Reports numbers; asserts nothing.

    .venv/bin/python bench/sql_rows.py            # about a minute; --rows N, --repeat N

Two figures per database:

- **node**: the node alone, called in this process as a node actor runs it (parameters
  validated, the query run through the pooled engine, every value converted to JSON);
- **workflow** (PostgreSQL only): a one-node workflow on a background runtime (``hub up`` in a
  temporary HUB_HOME, SQLite store): the node actor, the rows' trip back to the
  ExecutionActor, and the step's output (all the rows) committed to the store before the run
  ends.

The table has an integer key, a short text, a decimal and a timestamp per row.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.peers import hub_runtime  # noqa: E402

DATABASES = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql://root@127.0.0.1:3306/test",
    "sqlite": "sqlite:///bench/rows.db",
}
TABLE = "bench_sql_rows"


def node(**parameters: Any) -> Any:
    from hub.nodes import run_here

    return run_here("sql", parameters).output


def fill(url: str, rows: int) -> None:
    node(url=url, query=f"DROP TABLE IF EXISTS {TABLE}", mode="execute")
    node(
        url=url,
        query=f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name VARCHAR(40), "
        "price DECIMAL(10,2), created TIMESTAMP)",
        mode="execute",
    )
    batch = 1000
    for start in range(0, rows, batch):
        node(
            url=url,
            statements=[
                {
                    "query": f"INSERT INTO {TABLE} VALUES (:id, :name, :price, :created)",
                    "params": {
                        "id": i,
                        "name": f"row {i}",
                        "price": f"{i % 1000}.{i % 100:02d}",
                        "created": "2026-12-06 10:00:00",
                    },
                }
                for i in range(start, min(start + batch, rows))
            ],
        )


def per_s(seconds: list[float], rows: int) -> str:
    best, mid = min(seconds), statistics.median(seconds)
    return f"{rows / mid:,.0f} rows/s (median {mid * 1000:.0f} ms, best {best * 1000:.0f} ms)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["HUB_FILES_ROOT"] = tempfile.mkdtemp(prefix="hub-bench-sql-")
    query = f"SELECT id, name, price, created FROM {TABLE} ORDER BY id"
    results: list[tuple[str, str]] = []
    for name, url in DATABASES.items():
        fill(url, args.rows)
        node(url=url, query=query, max_rows=args.rows)  # warm: the engine and its pool
        seconds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            out = node(url=url, query=query, max_rows=args.rows)
            seconds.append(time.perf_counter() - started)
            assert out["rowcount"] == args.rows
        results.append((f"{name}, node", per_s(seconds, args.rows)))

    import hub

    env = dict(os.environ, HUB_FILES_ROOT=os.environ["HUB_FILES_ROOT"])
    with hub_runtime(env) as own:
        os.environ.update(own)
        client = hub.connect()
        doc = {
            "id": "read-rows",
            "nodes": [
                {
                    "id": "read",
                    "type": "sql",
                    "parameters": {
                        "url": DATABASES["postgresql"],
                        "query": query,
                        "max_rows": args.rows,
                    },
                }
            ],
        }
        client.register(doc)
        client.run("read-rows")  # warm: the sql pool's process and its engine
        seconds = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            record = client.run("read-rows")
            seconds.append(time.perf_counter() - started)
            assert record.status == "completed" and record.outputs["read"]["rowcount"] == args.rows
        results.append(
            ("postgresql, workflow (one sql step, output stored)", per_s(seconds, args.rows))
        )
        client.close()
    for name, _ in list(DATABASES.items())[:2]:
        node(url=DATABASES[name], query=f"DROP TABLE IF EXISTS {TABLE}", mode="execute")
    print(f"\n{args.rows:,}-row read, {args.repeat} repetitions\n\n| read | measured |\n|---|---|")
    for name, value in results:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()

"""A runtime of a benchmark's own: ``hub up`` in a HUB_HOME of its own, ``hub down`` after."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from bench.core import HUB
from hub._processes import free_port

ROOT = Path(__file__).resolve().parents[1]


class Runtime(NamedTuple):
    api_url: str  # .../api/v1
    token: str


@contextmanager
def own_runtime(home: Path) -> Iterator[Runtime]:
    """Start a runtime on free ports with ``home`` as HUB_HOME (SQLite store); cancel what runs
    and stop it at the end, whatever happened."""
    env = dict(
        os.environ,
        HUB_HOME=str(home),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    ports = ["--port", str(free_port()), "--dashboard-port", str(free_port())]
    up = [HUB, "up", "--json", *ports, "--api-port", str(free_port())]
    info = json.loads(subprocess.run(up, env=env, check=True, capture_output=True).stdout)
    try:
        yield Runtime(info["api_url"], (home / "api.token").read_text().strip())
    finally:
        subprocess.run([HUB, "down", "--cancel-runs"], env=env, check=False, capture_output=True)

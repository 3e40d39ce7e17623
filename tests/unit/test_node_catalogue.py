"""The node-type catalogue (hub.nodes.catalogue) and ``hub nodes`` without a runtime."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from hub.nodes import catalogue, default_registry
from tests.conftest import HUB


def test_every_type_is_listed_with_where_it_runs_and_its_schema() -> None:
    types = {t.name: t for t in catalogue(default_registry(), frozenset({"shell"}))}
    assert {"sql", "file.read", "email", "webhook", "datetime", "http", "code"} <= set(types)
    assert types["set"].runs_in == "execution-actor" and types["set"].pool is None
    assert types["sql"].runs_in == "node-pool" and types["sql"].pool is not None
    assert types["desktop.click"].runs_in == "desktop"
    assert types["code"].isolated and not types["code"].enabled  # family code is not enabled
    assert types["shell"].enabled and types["http"].enabled and types["http"].family is None
    assert types["sql"].literal_parameters == ["/query", "/statements/*/query"]
    schema = types["email"].parameters_schema
    assert "from" in schema["properties"] and "sender" not in schema["properties"]  # aliases
    assert "url" in schema["required"]


def test_hub_nodes_answers_for_this_environment_without_a_runtime(tmp_path: Path) -> None:
    env = {**os.environ, "HUB_HOME": str(tmp_path), "HUB_ENABLE_CODE_NODES": "1"}
    env.pop("HUB_ENABLE_SHELL_NODES", None)
    listed = subprocess.run([HUB, "nodes", "--json"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    enabled = {t["name"]: t["enabled"] for t in json.loads(listed.stdout)}
    assert enabled["code"] is True and enabled["shell"] is False
    one = subprocess.run([HUB, "nodes", "sql"], env=env, capture_output=True, text=True)
    assert one.returncode == 0 and "literal parameters: /query" in one.stdout
    wrong = subprocess.run([HUB, "nodes", "sq"], env=env, capture_output=True, text=True)
    assert wrong.returncode == 2 and "did you mean 'sql'?" in wrong.stderr


def test_a_reader_that_stops_reading_is_not_an_error(tmp_path: Path) -> None:
    """`hub nodes --json | head -c 10`: the catalogue meets a closed pipe (shrunk to 4 KB, so
    the write cannot fit before the reader leaves); hub exits 0 and says nothing on stderr."""
    import fcntl

    env = {**os.environ, "HUB_HOME": str(tmp_path)}
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, 1031, 4096)  # F_SETPIPE_SZ
    proc = subprocess.Popen(
        [HUB, "nodes", "--json"], env=env, stdout=write_end, stderr=subprocess.PIPE
    )
    os.close(write_end)
    assert os.read(read_end, 10)
    os.close(read_end)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0 and stderr == b"", stderr
